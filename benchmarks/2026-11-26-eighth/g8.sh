echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
F="bench flat --nq 10000 --k 10 --single 0 --iters 3 --precisions f16"
echo "== old (acc8dae)"; timeout 90 ./wgfaiss_old $F 2>&1 | grep -E "batch"
echo "== new default"; timeout 90 ./wgfaiss $F 2>&1 | grep -E "batch|rror"
echo "== nokeys"; WGFAISS_HALF_DEBUG=nokeys timeout 60 ./wgfaiss $F 2>&1 | grep -E "batch|rror" | head -3
echo "== noinsert"; WGFAISS_HALF_DEBUG=noinsert timeout 60 ./wgfaiss $F 2>&1 | grep -E "batch|rror" | head -3
for tg in 512 2048; do echo "== target_groups $tg"; WGFAISS_KNN_TARGET_GROUPS=$tg timeout 60 ./wgfaiss $F 2>&1 | grep -E "batch|rror" | head -3; done
echo "== all"; timeout 300 ./wgfaiss bench flat --nq 10000 --k 10,100,1000 --single 20 --iters 2 --precisions exact,f16 2>&1 | grep -E "batch|single|rror"
timeout 200 ./wgfaiss bench flat --nq 10000 --k 10 --dim 96,768 --single 0 --iters 2 --precisions exact,f16 2>&1 | grep -E "batch|rror"
echo "== tests"; timeout 150 ./t_knn_half 2>&1 | grep -E "test result|panicked" -A3 | head -8
timeout 150 ./t_flat 2>&1 | grep -E "test result|panicked" -A3 | head -8
