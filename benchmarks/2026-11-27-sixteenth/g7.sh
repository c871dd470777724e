# Tile sweep with the swapped form (smaller tiles paid the per-tile store cost more often): env overrides of the H100 entry.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
G() { timeout 60 "$@" 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1), $NF} NF<=5{print}'; }
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
V() { echo "== $*"; env "$@" ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1)} NF<=5{print}'; }
V X=shipped
V WGFAISS_GEMM_COOP_TILE_N=128
V WGFAISS_GEMM_COOP_TILE_N=128 WGFAISS_GEMM_COOP_TILE_K=64
V WGFAISS_GEMM_COOP_TILE_N=128 WGFAISS_GEMM_COOP_TILE_K=80
V WGFAISS_GEMM_COOP_TILE_N=128 WGFAISS_GEMM_COOP_TILE_K=32
V WGFAISS_GEMM_COOP_TILE_N=128 WGFAISS_GEMM_COOP_TILE_K=32 WGFAISS_GEMM_COOP_STAGES=2
V WGFAISS_GEMM_COOP_TILE_N=128 WGFAISS_GEMM_COOP_TILE_K=16 WGFAISS_GEMM_COOP_STAGES=2
V WGFAISS_GEMM_COOP_TILE_M=256 WGFAISS_GEMM_COOP_TILE_N=128
V WGFAISS_GEMM_COOP_TILE_N=128 WGFAISS_GEMM_COOP_FRAG_N=2
V X=shipped
