echo commit $(cat commit.txt) + s2 unrolled + knn_half vector staging; date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
echo "== tests"; timeout 150 ./t_knn_half 2>&1 | grep -E "test result|panicked|recall" -A3 | head -8
F="bench flat --nq 10000 --k 10 --single 0 --iters 3 --precisions f16"
echo "== stage 1 (shipped)"; timeout 90 ./wgfaiss $F 2>&1 | grep -E "batch|rror"
echo "== stage 2"; WGFAISS_KNN_HALF_STAGE=2 timeout 90 ./wgfaiss $F 2>&1 | grep -E "batch|rror"
echo "== stage 2 pad 0"; WGFAISS_KNN_HALF_STAGE=2 WGFAISS_KNN_HALF_COL_PAD=0 timeout 90 ./wgfaiss $F 2>&1 | grep -E "batch|rror"
echo "== stage 2 pad 8"; WGFAISS_KNN_HALF_STAGE=2 WGFAISS_KNN_HALF_COL_PAD=8 timeout 90 ./wgfaiss $F 2>&1 | grep -E "batch|rror"
echo "== stage 2 teams 4"; WGFAISS_KNN_HALF_STAGE=2 WGFAISS_KNN_HALF_TEAMS=4 timeout 90 ./wgfaiss $F 2>&1 | grep -E "batch|rror"
echo "== stage 1 again"; timeout 90 ./wgfaiss $F 2>&1 | grep -E "batch|rror"
echo "== stage 2, k=100, d=96"; WGFAISS_KNN_HALF_STAGE=2 timeout 200 ./wgfaiss bench flat --nq 10000 --k 100 --dim 128,96 --single 0 --iters 3 --precisions f16 2>&1 | grep -E "batch|rror"
echo "== stage 1, k=100, d=96"; timeout 200 ./wgfaiss bench flat --nq 10000 --k 100 --dim 128,96 --single 0 --iters 3 --precisions f16 2>&1 | grep -E "batch|rror"
