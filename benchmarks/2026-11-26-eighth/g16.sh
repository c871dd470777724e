echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
S="bench flat --nq 1 --k 10 --single 300 --iters 3 --precisions exact,f16"
for seg in 2048 1024 4096 8192; do echo "== stream_segment $seg"; WGFAISS_KNN_STREAM_SEGMENT=$seg timeout 60 ./wgfaiss $S 2>&1 | grep -E "single"; done
echo "== profile 2048"; WGFAISS_PROFILE=1 timeout 60 ./wgfaiss bench flat --nq 1 --k 10 --single 3 --iters 1 --precisions exact 2>&1 | grep -E "ms  " | tail -3
echo "== profile 4096"; WGFAISS_KNN_STREAM_SEGMENT=4096 WGFAISS_PROFILE=1 timeout 60 ./wgfaiss bench flat --nq 1 --k 10 --single 3 --iters 1 --precisions exact 2>&1 | grep -E "ms  " | tail -3
echo "== 4 queries"; for seg in 2048 4096; do WGFAISS_KNN_STREAM_SEGMENT=$seg timeout 60 ./wgfaiss bench flat --nq 4 --k 10 --single 0 --iters 20 --precisions exact 2>&1 | grep -E "batch"; done
