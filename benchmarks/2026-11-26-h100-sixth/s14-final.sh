set -u
echo commit ec07d60
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
echo "== tests on the card (tensor-core form of the f16 mode)"
./t_knn_half 2>&1 | grep -E "^test |^test result|panicked" -A2 | head -12
./t_flat 2>&1 | grep -E "^test result|panicked" -A2 | head -12
./t_flat f16 --nocapture 2>&1 | grep -E "recall" | head -5
echo "== flat, exact and f16, k = 10 (and d = 96, 768 for f16's unrolled and looped forms)"
./wgfaiss bench flat --nq 10000 --k 10 --single 100 --iters 3 --precisions exact,f16
WGFAISS_PROFILE=1 ./wgfaiss bench flat --nq 10000 --k 10 --single 1 --iters 1 --precisions f16 2>&1 | grep -E "ms +[0-9]+ x|host" | head -8
python3 peer_flat.py --nb 1000000 --nq 10000 --k 10 --half
./wgfaiss bench flat --nq 10000 --k 10 --dim 96,768 --single 20 --iters 2 --precisions exact,f16
python3 peer_flat.py --nb 1000000 --nq 10000 --k 10 --dim 96,768 --half --iters 2
echo exit=$?
