S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
run() { echo "== $1"; shift; env "$@" timeout 60 ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | tail -4; }
N="WGFAISS_GEMM_COOP_STAGE_TYPE=none WGFAISS_GEMM_COOP_TILE_K=16"
run "none 128x128 f4x4 (4 sg)" $N WGFAISS_GEMM_COOP_FRAG_N=4
run "none 128x256 f4x4 (8 sg)" $N WGFAISS_GEMM_COOP_FRAG_N=4 WGFAISS_GEMM_COOP_TILE_N=256
run "none 256x128 f4x4 (8 sg)" $N WGFAISS_GEMM_COOP_FRAG_N=4 WGFAISS_GEMM_COOP_TILE_M=256
run "none 64x64 f4x4 (1 sg)" $N WGFAISS_GEMM_COOP_FRAG_N=4 WGFAISS_GEMM_COOP_TILE_M=64 WGFAISS_GEMM_COOP_TILE_N=64
run "none 128x128 f4x2 (8 sg)" $N
run "none 256x256 f4x4 (16 sg)" $N WGFAISS_GEMM_COOP_FRAG_N=4 WGFAISS_GEMM_COOP_TILE_M=256 WGFAISS_GEMM_COOP_TILE_N=256
run "staged 128x256 f4x4 pad8 s1" WGFAISS_GEMM_COOP_TILE_N=256 WGFAISS_GEMM_COOP_FRAG_N=4 WGFAISS_GEMM_COOP_STAGES=1
timeout 60 ./t_gemm f16 2>&1 | grep -E "^test |^test result|panicked" -A2 | head -8
