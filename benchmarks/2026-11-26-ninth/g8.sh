echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
echo "== tests"; timeout 150 ./t_knn 2>&1 | grep -E "test result|panicked" -A3 | head -6
S="bench flat --nq 1 --k 10 --single 300 --iters 3 --precisions exact,f16"
for st in 1 2 1 2; do echo "== stream_steps $st"; WGFAISS_KNN_STREAM_STEPS=$st timeout 60 ./wgfaiss $S 2>&1 | grep -E "single"; done
for st in 1 2; do echo "== profile steps $st"; WGFAISS_KNN_STREAM_STEPS=$st WGFAISS_PROFILE=1 timeout 60 ./wgfaiss bench flat --nq 1 --k 10 --single 3 --iters 1 --precisions exact 2>&1 | grep -E "ms  " | tail -3; done
for st in 1 2; do echo "== 4 queries steps $st"; WGFAISS_KNN_STREAM_STEPS=$st timeout 60 ./wgfaiss bench flat --nq 4 --k 10 --single 0 --iters 20 --precisions exact 2>&1 | grep -E "batch"; done
echo "== steps 2 segment 4096"; WGFAISS_KNN_STREAM_STEPS=2 WGFAISS_KNN_STREAM_SEGMENT=4096 timeout 60 ./wgfaiss $S 2>&1 | grep -E "single"
