# Flat k = 10 beside torch (fp32 and f16 re-rank) in one call: the peer lines g7/g10 cut off.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
timeout 150 ./wgfaiss bench flat --nq 10000 --k 10 --single 20 --iters 3 --precisions exact,f16 2>&1 | grep -E "d=128 (batch|single)"
timeout 200 python3 peer_flat.py --nb 1000000 --nq 10000 --dim 128 --k 10 --iters 2 2>&1 | tail -3
timeout 200 python3 peer_flat.py --nb 1000000 --nq 10000 --dim 128 --k 10 --iters 2 --half 2>&1 | tail -3
