echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
F="bench flat --nq 10000 --k 10 --single 0 --iters 3 --precisions f16"
echo "== old"; timeout 90 ./wgfaiss_old $F 2>&1 | grep -E "batch"
echo "== new"; timeout 90 ./wgfaiss $F 2>&1 | grep -E "batch"
for t in 1 2 8; do echo "== teams $t"; WGFAISS_KNN_HALF_TEAMS=$t timeout 60 ./wgfaiss $F 2>&1 | grep -E "batch"; done
for tg in 2048 4096; do echo "== target_groups $tg"; WGFAISS_KNN_TARGET_GROUPS=$tg timeout 60 ./wgfaiss $F 2>&1 | grep -E "batch"; done
echo "== profile"; WGFAISS_PROFILE=1 timeout 60 ./wgfaiss bench flat --nq 10000 --k 10 --single 0 --iters 1 --precisions f16 2>&1 | grep -vE "XDG|^$" | tail -7
echo "== test"; timeout 120 ./t_knn_half 2>&1 | grep -E "^test |test result|panicked|recall" -A3 | head -20
echo "== k 100, d 96 768"
timeout 120 ./wgfaiss bench flat --nq 10000 --k 100 --single 0 --iters 2 --precisions exact,f16 2>&1 | grep -E "batch"
timeout 200 ./wgfaiss bench flat --nq 10000 --k 10 --dim 96,768 --single 0 --iters 2 --precisions exact,f16 2>&1 | grep -E "batch"
