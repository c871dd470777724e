echo commit $(cat commit.txt) "+ stage 2 (double-buffered staging)"; date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
F="bench flat --nq 10000 --k 10,100 --single 0 --iters 3 --precisions f16"
for i in 1 2; do
echo "== stage 1 (8 teams)"; WGFAISS_KNN_HALF_STAGE=1 timeout 100 ./wgfaiss $F 2>&1 | grep -E "batch|rror"
echo "== stage 2 (6 teams: what fits)"; WGFAISS_KNN_HALF_STAGE=2 timeout 100 ./wgfaiss $F 2>&1 | grep -E "batch|rror"
done
echo "== stage 1, 6 teams"; WGFAISS_KNN_HALF_STAGE=1 WGFAISS_KNN_HALF_TEAMS=6 timeout 100 ./wgfaiss $F 2>&1 | grep -E "batch|rror"
echo "== stage 2, pad 0 (7 teams fit?)"; WGFAISS_KNN_HALF_STAGE=2 WGFAISS_KNN_HALF_COL_PAD=0 timeout 100 ./wgfaiss $F 2>&1 | grep -E "batch|rror"
echo "== test (staged gpu = stage 2)"; timeout 150 ./t_knn_half 2>&1 | grep -E "test result|panicked" -A3 | head -6
