# Tile probe (experiment): f16 k-NN products organised like the tiled GEMM, 10 000 x 1M x 128;
# the shipped fused f16 kernel in the same call for reference.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
timeout 300 ./wgfaiss bench gemm --tile-probe --iters 3 2>&1 | grep -vE "XDG|^$"
echo "== shipped f16 search, per kernel"
WGFAISS_PROFILE=1 timeout 100 ./wgfaiss bench flat --nq 10000 --k 10 --precisions f16 --iters 2 --single 0 2>&1 | grep -vE "XDG|^$" | tail -12
