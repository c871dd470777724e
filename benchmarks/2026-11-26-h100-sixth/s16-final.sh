set -u
echo commit 4466200
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
python3 -m pip install --no-deps -q --target /tmp/faisspy faiss_cpu*.whl > /dev/null 2>&1
./wgfaiss bench ivf --nprobe 16,64 --single 50 --save-data /tmp/sift
PYTHONPATH=/tmp/faisspy python3 peer_ivf.py /tmp/sift --nlist 4096 --nprobe 16,64 --k 10
./wgfaiss bench flat --nq 10000 --k 10 --single 100 --iters 3 --precisions exact,f16
python3 peer_flat.py --nb 1000000 --nq 10000 --k 10 --half
echo exit=$?
