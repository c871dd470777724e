echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
S="bench flat --nq 1 --k 10 --single 300 --iters 3 --precisions exact"
for seg in 2048 1280 2560 2688 3072 3840 2048; do echo "== stream_segment $seg"; WGFAISS_KNN_STREAM_SEGMENT=$seg timeout 60 ./wgfaiss $S 2>&1 | grep -E "single"; done
for seg in 2048 2560 3840; do echo "== profile $seg"; WGFAISS_KNN_STREAM_SEGMENT=$seg WGFAISS_PROFILE=1 timeout 60 ./wgfaiss bench flat --nq 1 --k 10 --single 3 --iters 1 --precisions exact 2>&1 | grep -E "ms  " | tail -2; done
for b in wgfaiss_old wgfaiss; do echo "== $b k=1000 (unfused: GEMM tiles + top-k)"; timeout 120 ./$b bench flat --nq 10000 --k 1000 --single 0 --iters 3 --precisions exact 2>&1 | grep -E "batch|rror"; done
