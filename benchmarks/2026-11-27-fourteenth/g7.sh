# Tile probe (experiment), epilogue with Xs staged, two fragments at a time, keys 8 at a time.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
timeout 300 ./wgfaiss bench gemm --tile-probe --iters 3 2>&1 | grep -vE "XDG|^$"
