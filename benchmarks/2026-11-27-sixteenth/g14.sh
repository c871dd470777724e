# Staging choices again with the swapped form (its fragment loads read the staged slices in the other layout): pads, widths, fragments staging.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
V() { echo "== $*"; env "$@" timeout 60 ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1)} NF<=5{print}'; }
V X=shipped
V WGFAISS_GEMM_COOP_PAD=16
V WGFAISS_GEMM_COOP_PAD=24
V WGFAISS_GEMM_COOP_PAD=0
V WGFAISS_GEMM_COOP_STAGE_WIDTH=2
V WGFAISS_GEMM_COOP_STAGE_TYPE=fragments WGFAISS_GEMM_COOP_TILE_K=32
V X=shipped
