S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
run() { echo "== $1"; shift; env "$@" timeout 60 ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | tail -4; }
run "auto, ahead 1 (default)"
run "auto, ahead 2" WGFAISS_GEMM_COOP_AHEAD=2
run "fragments, ahead 2" WGFAISS_GEMM_COOP_AHEAD=2 WGFAISS_GEMM_COOP_STAGE_TYPE=fragments
run "halves, ahead 2" WGFAISS_GEMM_COOP_AHEAD=2 WGFAISS_GEMM_COOP_STAGE_TYPE=halves
run "256x128 auto ahead 2" WGFAISS_GEMM_COOP_AHEAD=2 WGFAISS_GEMM_COOP_TILE_M=256 WGFAISS_GEMM_COOP_TILE_N=128
run "128x128 f4x2 auto ahead 2" WGFAISS_GEMM_COOP_AHEAD=2 WGFAISS_GEMM_COOP_TILE_N=128 WGFAISS_GEMM_COOP_FRAG_N=2
timeout 60 ./t_gemm f16 2>&1 | grep -E "^test |^test result|panicked" -A3 | head -6
