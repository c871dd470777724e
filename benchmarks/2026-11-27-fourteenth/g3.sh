# Mid-size batches: where the 64-query f16/verified search's time goes, and what the tiled f16 GEMM
# takes for the same products (64 queries x 1M base rows x 128, A*B^T), by tile shape.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
for nq in 64 32; do echo "== profile flat nq=$nq"; WGFAISS_PROFILE=1 timeout 100 ./wgfaiss bench flat --nq $nq --k 10 --precisions exact --iters 3 --single 0 2>&1 | grep -vE "XDG|^$" | tail -30; done
S="--f16 --sustained --shapes 64x1000192x128,32x1000192x128,128x1000192x128 --trans nt --iters 20"
G() { echo "== $*"; env "$@" timeout 60 ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | tail -3; }
G X=shipped
for cfg in "64 256 32 1 4 4" "64 256 64 1 4 4" "64 128 64 1 4 2" "32 256 64 1 2 4" "64 512 32 1 4 4" "128 256 32 1 4 4"; do
  set -- $cfg
  G WGFAISS_GEMM_COOP_TILE_M=$1 WGFAISS_GEMM_COOP_TILE_N=$2 WGFAISS_GEMM_COOP_TILE_K=$3 WGFAISS_GEMM_COOP_STAGES=$4 WGFAISS_GEMM_COOP_FRAG_M=$5 WGFAISS_GEMM_COOP_FRAG_N=$6
done
