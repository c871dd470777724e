echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
F="bench flat --nq 10000 --k 10 --single 0 --iters 3 --precisions f16"
echo "== default (t8 staged)"; timeout 90 ./wgfaiss $F 2>&1 | grep -E "batch|rror"
for t in 8 4 2 1; do echo "== t$t unstaged"; WGFAISS_KNN_HALF_STAGE=0 WGFAISS_KNN_HALF_TEAMS=$t timeout 60 ./wgfaiss $F 2>&1 | grep -E "batch|rror" | head -3; done
echo "== t4 staged"; WGFAISS_KNN_HALF_TEAMS=4 timeout 60 ./wgfaiss $F 2>&1 | grep -E "batch|rror" | head -3
echo "== nokeys"; WGFAISS_HALF_DEBUG=nokeys timeout 60 ./wgfaiss $F 2>&1 | grep -E "batch|rror" | head -3
echo "== noinsert"; WGFAISS_HALF_DEBUG=noinsert timeout 60 ./wgfaiss $F 2>&1 | grep -E "batch|rror" | head -3
echo "== tests"; timeout 150 ./t_knn_half 2>&1 | grep -E "test result|panicked" -A3 | head -8
timeout 150 ./t_flat 2>&1 | grep -E "test result|panicked" -A3 | head -8
