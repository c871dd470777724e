# C^T = B^T A^T fragments (A-role from B's slice, B-role from A's), stored column-major = C row-major (EXP_EPI=T; results checked), against the shipped coopStoreT.
echo commit $(cat commit.txt)+exp-epi-T; date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
G() { timeout 60 "$@" 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1), $NF} NF<=5{print}'; }
SH=4096x4096x1056,4096x4096x4096,4096x4096x16416,8192x8192x8192
for i in 1 2; do
echo "== rowmajor coopStoreT"; G ./wgfaiss_exp bench gemm --f16 --sustained --shapes $SH --trans nn,nt --iters 10
echo "== T"; EXP_EPI=T G ./wgfaiss_exp bench gemm --f16 --sustained --shapes $SH --trans nn,nt --iters 10
done
