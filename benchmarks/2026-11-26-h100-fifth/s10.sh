set -u
echo "== top-k 10000 x 4096 (IVF coarse shape), radix vs filter"
./wgfaiss bench topk --rows 10000 --cols 4096 --k 32,64,128 --iters 5 | tail -5
WGFAISS_TOPK_RADIX_MIN_K=0 ./wgfaiss bench topk --rows 10000 --cols 4096 --k 32,64,128 --iters 5 | tail -5
python3 peer_topk.py --rows 10000 --cols 4096 --k 64 2>&1 | tail -3
echo "== ivf"
./wgfaiss bench ivf --nprobe 16,64 --single 50 | tail -4
WGFAISS_TOPK_RADIX_MIN_K=0 ./wgfaiss bench ivf --nprobe 16,64 --single 20 --niter 10 | tail -4
WGFAISS_PROFILE=1 ./wgfaiss bench ivf --nprobe 64 --single 0 --niter 5 2>&1 | grep -A16 "streaming read" | grep -v host | head -17
