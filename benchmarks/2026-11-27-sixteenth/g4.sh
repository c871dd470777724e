# Epilogue: C through workgroup memory (column-major fragment, 18 floats a column) and vec4<f32> stores (EXP_EPI=18), column-major coopStore to the buffer (EXP_EPI=col, wrong results, timing only), against coopStoreT.
echo commit $(cat commit.txt)+exp-epi; date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
G() { timeout 120 "$@" 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1)} NF<=5{print}'; }
SH=4096x4096x1056,4096x4096x4096,4096x4096x16416,8192x8192x8192
for i in 1 2; do
echo "== rowmajor coopStoreT"; G ./wgfaiss_exp bench gemm --f16 --sustained --shapes $SH --trans nn,nt --iters 10
echo "== staged 18"; EXP_EPI=18 G ./wgfaiss_exp bench gemm --f16 --sustained --shapes $SH --trans nn,nt --iters 10
echo "== col"; EXP_EPI=col G ./wgfaiss_exp bench gemm --f16 --sustained --shapes $SH --trans nn --iters 10
done
