#!/bin/bash
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
python3 -m pip install --no-deps -q --target /tmp/faisspy faiss_cpu*.whl > /dev/null 2>&1
./wgfaiss bench ivf --nprobe 16,32,64 --single 50 --save-data /tmp/sift
PYTHONPATH=/tmp/faisspy python3 peer_ivf.py /tmp/sift --nlist 4096 --nprobe 16,64 --k 10
./wgfaiss bench gemm --shapes 4096x4096x4096 --trans nn,nt --iters 10
python3 peer_gemm.py --shapes 4096x4096x4096
./wgfaiss bench flat --nb 1000000 --nq 10000 --k 1,10,100 --single 50 --iters 3
python3 peer_flat.py --nb 1000000 --nq 10000 --k 1,10,100
