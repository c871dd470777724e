# Tile probe (experiment): epilogue forms bisected (stores only; branch per key; bit mask).
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
timeout 300 ./wgfaiss bench gemm --tile-probe --iters 3 2>&1 | grep -vE "XDG|^$"
