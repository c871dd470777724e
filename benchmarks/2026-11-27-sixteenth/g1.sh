# K sweep of the f16 GEMM at M = N = 4096 (fixed cost per tile), torch sustained in the same call.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
SH=4096x4096x1024,4096x4096x2048,4096x4096x4096,4096x4096x8192,4096x4096x16384,8192x8192x4096,8192x8192x8192,2048x2048x16384
echo "== gemm f16 nn"; timeout 120 ./wgfaiss bench gemm --f16 --sustained --shapes $SH --trans nn --iters 10 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1)} NF<=5{print}'
echo "== torch sustained"; timeout 200 python3 peer_gemm.py --sustained --shapes $SH --iters 10 2>&1 | grep -v float32
echo "== gemm f16 nn again"; timeout 120 ./wgfaiss bench gemm --f16 --sustained --shapes $SH --trans nn --iters 10 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1)} NF<=5{print}'
