echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
for t in t_knn_half t_flat; do timeout 200 ./$t 2>&1 | grep -E "test result|panicked" -A3 | head -6; done
timeout 120 ./wgfaiss bench flat --nq 10000 --k 10 --single 20 --iters 3 --precisions exact,f16 2>&1 | grep -E "batch|single|rror"
timeout 120 python3 peer_flat.py --nb 1000000 --nq 10000 --k 10 --half --iters 2
