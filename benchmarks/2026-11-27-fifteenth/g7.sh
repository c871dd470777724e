# Where a 64-query IVF search (nprobe 64) and a 64-query flat search spend their time.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
echo "== ivf 64 queries profile"
WGFAISS_PROFILE=1 timeout 200 ./wgfaiss bench ivf --nq 64 --nprobe 64 --single 0 --niter 5 2>&1 | grep -v XDG | tail -28
echo "== flat 64 queries profile"
WGFAISS_PROFILE=1 timeout 100 ./wgfaiss bench flat --nq 64 --k 10 --precisions exact --iters 3 --single 0 2>&1 | grep -v XDG | tail -16
