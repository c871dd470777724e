echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv
F="bench flat --nq 10000 --k 10 --single 0 --iters 3"
for tg in 1024 1056 1584 2048 4096 8192; do echo "== target_groups $tg"; WGFAISS_KNN_TARGET_GROUPS=$tg timeout 60 ./wgfaiss $F 2>&1 | grep -vE "XDG|^$" | tail -6; done
echo "== profile one query exact + f16"
WGFAISS_PROFILE=1 timeout 60 ./wgfaiss bench flat --nq 1 --k 10 --single 30 --iters 3 --precisions exact,f16 2>&1 | grep -vE "XDG|^$" | tail -40
echo "== profile f16 batch"
WGFAISS_PROFILE=1 timeout 90 ./wgfaiss bench flat --nq 10000 --k 10 --single 0 --iters 1 --precisions f16 2>&1 | grep -vE "XDG|^$" | tail -25
timeout 120 python3 peer_flat.py --nb 1000000 --nq 10000 --k 10 --iters 2
