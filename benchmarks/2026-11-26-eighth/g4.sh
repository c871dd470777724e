echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
F="bench flat --nq 10000 --k 10 --single 0 --iters 3 --precisions f16"
echo "== old"; timeout 90 ./wgfaiss_old $F 2>&1 | grep -E "batch"
for t in 4 8; do for g in 0 1 2 3; do echo "== teams $t stage $g"; WGFAISS_KNN_HALF_STAGE=$g WGFAISS_KNN_HALF_TEAMS=$t timeout 60 ./wgfaiss $F 2>&1 | grep -E "batch|rror" | head -3; done; done
echo "== test (stage 3 among its gpus)"; timeout 150 ./t_knn_half 2>&1 | grep -E "test result|panicked" -A3 | head -8
echo "== k 100 stage 1, 3 teams 8"
WGFAISS_KNN_HALF_STAGE=1 timeout 120 ./wgfaiss bench flat --nq 10000 --k 100 --single 0 --iters 1 --precisions f16 2>&1 | grep -vE "XDG|^$" | tail -3
WGFAISS_KNN_HALF_STAGE=3 WGFAISS_KNN_HALF_TEAMS=8 timeout 120 ./wgfaiss bench flat --nq 10000 --k 100 --single 0 --iters 1 --precisions f16 2>&1 | grep -vE "XDG|^$" | tail -3
