# Final binary: the flat index's issue-4 figures (10 000 queries, k = 10/100/1000, one query) and f16 mode, torch fp32/f16 in the same call.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
timeout 240 ./wgfaiss bench flat --precisions exact,f16 --iters 3 --single 50 2>&1 | grep -v XDG | tail -12
echo "== torch"; timeout 200 python3 peer_flat.py --nb 1000000 --nq 10000 --dim 128 --k 10,100 --iters 3 2>&1 | tail -5
echo "== torch f16"; timeout 120 python3 peer_flat.py --nb 1000000 --nq 10000 --dim 128 --k 10 --iters 3 --half 2>&1 | tail -3
