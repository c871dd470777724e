# Which side's store order moves the A*B GEMM: per-side overrides (temporary experiment switch).
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn --iters 10"
for r in 1 2; do
for v in "WGFAISS_EXP_ORDER_A=none WGFAISS_EXP_ORDER_B=none" "WGFAISS_EXP_ORDER_A=0 WGFAISS_EXP_ORDER_B=none" "WGFAISS_EXP_ORDER_A=0 WGFAISS_EXP_ORDER_B=3" "WGFAISS_EXP_ORDER_A=3 WGFAISS_EXP_ORDER_B=none" "WGFAISS_EXP_ORDER_A=1 WGFAISS_EXP_ORDER_B=none" "WGFAISS_EXP_ORDER_A=0 WGFAISS_EXP_ORDER_B=0"; do echo "== gemm f16 $v"; env $v timeout 60 ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | tail -2 | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1)} NF<=5{print}'; done
done
