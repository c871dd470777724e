# Epilogue cost: C stored twice (EXP_EPI2, second copy transposed; square shapes only) against once; fixed cost of one tile at small K.
echo commit $(cat commit.txt)+exp-epi2; date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
G() { timeout 120 "$@" 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1)} NF<=5{print}'; }
SH=4096x4096x1056,4096x4096x4128,4096x4096x16416,2048x2048x1056,2048x2048x8208
for i in 1 2; do
echo "== once"; G ./wgfaiss_exp bench gemm --f16 --sustained --shapes $SH --trans nn --iters 20
echo "== twice"; EXP_EPI2=1 G ./wgfaiss_exp bench gemm --f16 --sustained --shapes $SH --trans nn --iters 20
done

