# GEMM: smaller workgroups (4 subgroups of 4 x 4 fragments) so two or more share an SM and overlap
# each other's staging; two stages where they fit. Env overrides of gemm.coop_*.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
G() { echo "== $*"; env "$@" timeout 60 ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | tail -4; }
G X=shipped
for cfg in "128 128 32 2" "128 128 32 1" "128 128 48 1" "128 128 64 1" "64 256 16 2" "256 128 48 1" "128 128 16 2"; do
  set -- $cfg
  G WGFAISS_GEMM_COOP_TILE_M=$1 WGFAISS_GEMM_COOP_TILE_N=$2 WGFAISS_GEMM_COOP_TILE_K=$3 WGFAISS_GEMM_COOP_STAGES=$4 WGFAISS_GEMM_COOP_FRAG_M=4 WGFAISS_GEMM_COOP_FRAG_N=4
done
G X=shipped
