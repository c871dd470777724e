echo commit $(cat commit.txt); date -u
S="bench flat --nq 1 --k 10 --single 300 --iters 3 --precisions f16-verified"
for seg in 2048 1024 3072 4096 2048; do echo "== stream_segment $seg"; WGFAISS_KNN_STREAM_SEGMENT=$seg timeout 60 ./wgfaiss $S 2>&1 | grep -E "single"; done
echo "== profile f16-verified single"; WGFAISS_PROFILE=1 timeout 60 ./wgfaiss bench flat --nq 1 --k 10 --single 3 --iters 1 --precisions f16-verified 2>&1 | grep -E "ms  " | tail -8
echo "== profile exact single k=1"; WGFAISS_PROFILE=1 timeout 60 ./wgfaiss bench flat --nq 1 --k 1 --single 3 --iters 1 --precisions exact 2>&1 | grep -E "ms  " | tail -4
echo "== k=1 single"; timeout 60 ./wgfaiss bench flat --nq 1 --k 1 --single 300 --iters 3 --precisions exact,f16-verified 2>&1 | grep -E "single"
