S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
run() { echo "== $1"; shift; env "$@" timeout 60 ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | tail -4; }
run "default"
run "128x256 f4x2 (16 sg)" WGFAISS_GEMM_COOP_FRAG_N=2
run "256x128 f4x2 (16 sg)" WGFAISS_GEMM_COOP_TILE_M=256 WGFAISS_GEMM_COOP_TILE_N=128 WGFAISS_GEMM_COOP_FRAG_N=2
run "128x256 f2x4 (16 sg)" WGFAISS_GEMM_COOP_FRAG_M=2
run "256x256 f4x4 (16 sg) fragments" WGFAISS_GEMM_COOP_TILE_M=256 WGFAISS_GEMM_COOP_STAGE_TYPE=fragments
