# Two stages (one barrier per slice) with the swapped form at 128 x 256 and 256 x 128 (slices of 16 fit 48 KiB twice).
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
V() { echo "== $*"; env "$@" timeout 60 ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1)} NF<=5{print}'; }
V X=shipped
V WGFAISS_GEMM_COOP_TILE_K=16 WGFAISS_GEMM_COOP_STAGES=2
V WGFAISS_GEMM_COOP_TILE_K=16 WGFAISS_GEMM_COOP_STAGES=2 WGFAISS_GEMM_COOP_TILE_M=256 WGFAISS_GEMM_COOP_TILE_N=128
V WGFAISS_GEMM_COOP_TILE_K=16 WGFAISS_GEMM_COOP_STAGES=1
V X=shipped
