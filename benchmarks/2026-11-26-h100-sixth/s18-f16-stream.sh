set -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
./t_knn_half 2>&1 | grep -E "^test result|panicked" -A2 | head -6
./t_flat 2>&1 | grep -E "^test result|panicked" -A2 | head -6
WGFAISS_PROFILE=1 ./wgfaiss bench flat --nq 10000 --k 10 --single 3 --iters 1 --precisions f16 2>&1 | grep -E "ms +[0-9]+ x" | tail -5
./wgfaiss bench flat --nq 10000 --k 10 --single 200 --iters 3 --precisions exact,f16
./wgfaiss bench flat --nq 4 --k 10 --single 0 --iters 20 --precisions exact,f16
python3 peer_flat.py --nb 1000000 --nq 10000 --k 10 --half
echo exit=$?
