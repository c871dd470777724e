# Tile probe (experiment): fragment stores with columns 20 floats apart (conflict-free), zero accumulators by constructor.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
timeout 300 ./wgfaiss bench gemm --tile-probe --iters 3 2>&1 | grep -vE "XDG|^$"
