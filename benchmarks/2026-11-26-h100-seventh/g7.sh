S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
run() { echo "== $1"; shift; env "$@" timeout 60 ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | tail -4; }
run "128x256 f4x4 tk16 pad8 s2" WGFAISS_GEMM_COOP_TILE_N=256 WGFAISS_GEMM_COOP_FRAG_N=4 WGFAISS_GEMM_COOP_TILE_K=16
run "256x128 f4x4 tk16 pad8 s2" WGFAISS_GEMM_COOP_TILE_M=256 WGFAISS_GEMM_COOP_FRAG_N=4 WGFAISS_GEMM_COOP_TILE_K=16
run "128x256 f4x4 tk32 pad8 s1" WGFAISS_GEMM_COOP_TILE_N=256 WGFAISS_GEMM_COOP_FRAG_N=4 WGFAISS_GEMM_COOP_STAGES=1
for P in 0 4 8; do echo "== knn half col pad $P"; WGFAISS_KNN_HALF_COL_PAD=$P timeout 150 ./wgfaiss bench flat --nq 10000 --k 10 --single 0 --iters 2 --precisions f16 2>&1 | grep -vE "XDG|^$" | tail -3; done
