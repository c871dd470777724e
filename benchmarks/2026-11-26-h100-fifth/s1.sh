set -u
nvidia-smi --query-gpu=name --format=csv,noheader
echo "== flat, streaming kernel for 1-4 queries (default)"
./wgfaiss bench flat --nq 10000 --k 10,100 --single 100 --iters 2
echo "== flat, streaming off"
WGFAISS_KNN_STREAM=off ./wgfaiss bench flat --nq 16 --k 10,100 --single 100 --iters 1
for s in 1024 4096 8192; do echo "== segment $s"; WGFAISS_KNN_STREAM_SEGMENT=$s ./wgfaiss bench flat --nq 16 --k 10 --single 100 --iters 1 | tail -1; done
echo "== torch"
python3 peer_flat.py --nb 1000000 --nq 10000 --k 10
echo "== ivf after the copy fix (keys by the H100 entry)"
./wgfaiss bench ivf --nprobe 16,64 --k 10 --single 50 --save-data /tmp/sift
./wgfaiss bench ivf --nprobe 64 --k 100 --single 10 --niter 10
./wgfaiss bench ivf --nprobe 64 --k 1000 --single 5 --niter 10
echo exit=$?
