# GEMM: fragment staging (cooperative loads from device memory, cooperative stores into workgroup
# memory: one load and one store per 16 bytes) with the kernel compiled trusted, against halves.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
G() { echo "== $*"; env "$@" timeout 60 ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | tail -4; }
G X=shipped
for cfg in "32 4" "32 1" "16 4"; do
  set -- $cfg
  G WGFAISS_GEMM_COOP_STAGE_TYPE=fragments WGFAISS_GEMM_COOP_TILE_K=$1 WGFAISS_GEMM_COOP_STAGE_WIDTH=$2
done
G WGFAISS_GEMM_COOP_STAGE_TYPE=fragments WGFAISS_GEMM_COOP_TILE_M=256 WGFAISS_GEMM_COOP_TILE_N=128 WGFAISS_GEMM_COOP_TILE_K=32 WGFAISS_GEMM_COOP_STAGE_WIDTH=4
G X=shipped
