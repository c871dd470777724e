set -u
echo commit a60e532
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
echo "== tests on the card (tensor-core form of the f16 mode)"
./t_knn_half 2>&1 | grep -E "^test |^test result|panicked" -A2 | head -12
./t_flat f16 --nocapture 2>&1 | grep -E "recall|^test |^test result|panicked" -A2 | head -12
echo "== flat, exact and f16, k = 10"
./wgfaiss bench flat --nq 10000 --k 10 --single 100 --iters 3 --precisions exact,f16
WGFAISS_PROFILE=1 ./wgfaiss bench flat --nq 10000 --k 10 --single 1 --iters 1 --precisions f16 2>&1 | grep -E "ms +[0-9]+ x|host" | head -8
python3 peer_flat.py --nb 1000000 --nq 10000 --k 10 --half
echo "== linear algebra"
./wgfaiss bench qr --shapes 65536x256,4096x128 --iters 5
python3 peer_qr.py --shapes 65536x256,4096x128 --iters 20
./wgfaiss bench svd --shape 100000x768 --k 32 --iters 4 --bands 42 --save-data /tmp/svd
python3 peer_svd.py /tmp/svd --k 32 --iters 4
./wgfaiss bench pca
echo exit=$?
