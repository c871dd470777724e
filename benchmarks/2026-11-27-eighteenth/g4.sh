# The accumulator probe: frag_max against a conservative per-fragment threshold, then the exact scan of the few fragments that pass.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
timeout 300 ./wgfaiss bench gemm --tile-probe --iters 3 2>&1 | grep -v XDG | tail -20
