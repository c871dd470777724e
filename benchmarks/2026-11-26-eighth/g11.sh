echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
S="bench flat --nq 1 --k 10 --single 200 --iters 3 --precisions exact,f16"
echo "== old one query"; timeout 60 ./wgfaiss_old $S 2>&1 | grep -E "single|batch"
echo "== new one query"; timeout 60 ./wgfaiss $S 2>&1 | grep -E "single|batch"
echo "== passes"; WGFAISS_TOPK_LIST_MERGE_MAX_K=0 timeout 60 ./wgfaiss $S 2>&1 | grep -E "single|batch"
echo "== profile"; WGFAISS_PROFILE=1 timeout 60 ./wgfaiss bench flat --nq 1 --k 10 --single 3 --iters 1 --precisions exact,f16 2>&1 | grep -E "ms  " | tail -8
F="bench flat --nq 10000 --k 10,100 --single 0 --iters 3 --precisions exact,f16"
echo "== batch"; timeout 120 ./wgfaiss $F 2>&1 | grep -E "batch|rror"
echo "== f16 col pad 4"; WGFAISS_KNN_HALF_COL_PAD=4 timeout 60 ./wgfaiss bench flat --nq 10000 --k 10 --single 0 --iters 3 --precisions f16 2>&1 | grep -E "batch|rror"
for tg in 512 2048; do echo "== target_groups $tg"; WGFAISS_KNN_TARGET_GROUPS=$tg timeout 60 ./wgfaiss $F 2>&1 | grep -E "batch|rror"; done
echo "== tests"; for t in t_topk t_knn t_ivf; do timeout 200 ./$t 2>&1 | grep -E "test result|panicked" -A3 | head -6; done
