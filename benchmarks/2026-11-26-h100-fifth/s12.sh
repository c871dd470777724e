set -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
python3 -m pip install --no-deps -q --target /tmp/faisspy faiss_cpu*.whl > /dev/null 2>&1
echo "== flat"
./wgfaiss bench flat --nq 10000 --k 10 --single 100 --iters 3
python3 peer_flat.py --nb 1000000 --nq 10000 --k 10
echo "== ivf"
./wgfaiss bench ivf --nprobe 16,32,64 --single 50 --scans fused,keys --save-data /tmp/sift --json $OUT/ivf.json
PYTHONPATH=/tmp/faisspy python3 peer_ivf.py /tmp/sift --nlist 4096 --nprobe 16,64 --k 10
echo "== serve"
./wgfaiss bench serve --index flat
./wgfaiss bench serve --index ivf --nprobe 64
echo exit=$?
