echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
export WGFAISS_KNN_HALF_STAGE=1 WGFAISS_KNN_HALF_TEAMS=8
for k in 10 100; do for tg in 132 264 528 1024 2048; do echo "== k $k target_groups $tg"; WGFAISS_KNN_TARGET_GROUPS=$tg timeout 60 ./wgfaiss bench flat --nq 10000 --k $k --single 0 --iters 2 --precisions f16 2>&1 | grep -E "batch|rror" | head -3; done; done
echo "== nokeys t8 s1"; WGFAISS_HALF_DEBUG=nokeys timeout 90 ./wgfaiss bench flat --nq 10000 --k 10 --single 0 --iters 2 --precisions f16 2>&1 | grep -E "batch"
