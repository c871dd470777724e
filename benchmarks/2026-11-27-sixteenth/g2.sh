# Fixed cost per tile or per dispatch: K sweeps at 1, 2, 4 waves of tiles (132 SMs) and one tile.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
for MN in 128x256 1536x2816 3072x2816 4096x4096; do
SH=${MN}x1056,${MN}x2064,${MN}x4128,${MN}x8208,${MN}x16416
echo "== gemm f16 nn $MN"; timeout 120 ./wgfaiss bench gemm --f16 --sustained --shapes $SH --trans nn --iters 20 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1)} NF<=5{print}'
done
