echo commit $(cat commit.txt); date -u
echo "== ivf 64 queries nprobe 64: kernels"
WGFAISS_PROFILE=1 timeout 120 ./wgfaiss bench ivf --nq 64 --nprobe 64 --single 0 --niter 10 2>&1 | grep -vE "XDG" | tail -30
echo "== ivf 64 queries nprobe 64: host"
WGFAISS_PROFILE=host timeout 120 ./wgfaiss bench ivf --nq 64 --nprobe 64 --single 0 --niter 10 2>&1 | grep -vE "XDG" | tail -12
