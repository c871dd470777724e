echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
F="bench flat --nq 10000 --k 10 --single 0 --iters 3 --precisions f16"
for t in 4 8; do for g in 0 1; do echo "== teams $t stage $g"; WGFAISS_KNN_HALF_STAGE=$g WGFAISS_KNN_HALF_TEAMS=$t timeout 60 ./wgfaiss $F 2>&1 | grep -E "batch|rror" | head -3; done; done
export WGFAISS_KNN_HALF_STAGE=1 WGFAISS_KNN_HALF_TEAMS=8
for tg in 528 2048 4096; do echo "== t8 s1 target_groups $tg"; WGFAISS_KNN_TARGET_GROUPS=$tg timeout 60 ./wgfaiss $F 2>&1 | grep -E "batch|rror" | head -3; done
echo "== nokeys"; WGFAISS_HALF_DEBUG=nokeys timeout 60 ./wgfaiss $F 2>&1 | grep -E "batch|rror" | head -3
echo "== k 100 / 1000"; timeout 100 ./wgfaiss bench flat --nq 10000 --k 100 --single 0 --iters 2 --precisions f16 2>&1 | grep -E "batch|rror" | head -3
echo "== test"; timeout 150 ./t_knn_half 2>&1 | grep -E "test result|panicked" -A3 | head -8
