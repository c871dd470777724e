echo commit $(cat commit.txt) "+ shared bound in the exact kernel"; date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
F="bench flat --nq 10000 --k 10,100,1000 --single 50 --iters 3 --precisions exact"
echo "== bound on"; timeout 200 ./wgfaiss $F 2>&1 | grep -E "batch|single|rror"
echo "== bound off"; WGFAISS_KNN_SHARED_BOUND=0 timeout 200 ./wgfaiss $F 2>&1 | grep -E "batch|single|rror"
echo "== bound on, target_groups 1024 / 2048"
for tg in 1024 2048; do WGFAISS_KNN_TARGET_GROUPS=$tg timeout 200 ./wgfaiss bench flat --nq 10000 --k 10,100 --single 0 --iters 3 --precisions exact 2>&1 | grep -E "batch|rror"; done
echo "== tests"; for t in t_knn t_flat t_ivf; do timeout 200 ./$t 2>&1 | grep -E "test result|panicked" -A3 | head -6; done
