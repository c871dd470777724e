# torch f16 GEMM timed like ours (sustained: back to back after raising clocks) and single, beside ours.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
for r in 1; do
echo "== gemm f16 wgfaiss"; timeout 60 ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | tail -4 | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1)} NF<=5{print}'
echo "== torch single"; timeout 120 python3 peer_gemm.py --shapes 4096x4096x4096,8192x8192x8192 --iters 10 2>&1 | grep -E "float16|device"
echo "== torch sustained"; timeout 120 python3 peer_gemm.py --sustained --shapes 4096x4096x4096,8192x8192x8192 --iters 10 2>&1 | grep -E "float16|device"
echo "== torch sustained 100"; timeout 120 python3 peer_gemm.py --sustained --shapes 4096x4096x4096,8192x8192x8192 --iters 100 2>&1 | grep -E "float16|device"
echo "== gemm f16 wgfaiss again"; timeout 60 ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | tail -4 | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1)} NF<=5{print}'
done
