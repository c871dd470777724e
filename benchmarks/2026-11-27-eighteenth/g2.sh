# The accumulator probe (SPIR-V passthrough: frag_min reads the invocation's elements of each f16 product fragment), then serve flat/ivf with the fence spin off/on.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
timeout 300 ./wgfaiss bench gemm --tile-probe --iters 3 2>&1 | grep -v XDG | tail -12
serve() { timeout 150 ./wgfaiss bench serve --index $1 2>&1 | grep -v XDG | grep -E "one batch|round trip|one search|adaptive|coalescer|one by one" | head -7; }
for sw in 0 2000; do echo "== serve ivf spin_wait $sw"; WGFAISS_SUBMIT_SPIN_WAIT_US=$sw serve ivf; done
for sw in 0 2000; do echo "== serve flat spin_wait $sw"; WGFAISS_SUBMIT_SPIN_WAIT_US=$sw serve flat; done
