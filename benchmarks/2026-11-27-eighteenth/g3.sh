# The accumulator probe: frag_gt (a mask of the invocation's elements above per-element thresholds) on the raw products, its layout check, against the keyed scan through workgroup memory.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
timeout 300 ./wgfaiss bench gemm --tile-probe --iters 3 2>&1 | grep -v XDG | tail -20
