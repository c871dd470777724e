set -u
echo "== stream where lists fit (default)"
./wgfaiss bench flat --nq 4 --k 10,100,1000 --single 50 --iters 3 | tail -6
echo "== stream off"
WGFAISS_KNN_STREAM=off ./wgfaiss bench flat --nq 4 --k 10,100,1000 --single 50 --iters 3 | tail -6
python3 peer_flat.py --nb 1000000 --nq 4 --k 100
echo "== ivf single (coarse k=64 over 4096 streams)"
./wgfaiss bench ivf --nprobe 16,64 --single 50 --niter 10 | tail -3
WGFAISS_KNN_STREAM=off ./wgfaiss bench ivf --nprobe 16,64 --single 50 --niter 10 | tail -3
