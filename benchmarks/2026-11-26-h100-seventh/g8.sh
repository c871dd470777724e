S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
run() { echo "== $1"; shift; env "$@" timeout 60 ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | tail -4; }
F=WGFAISS_GEMM_COOP_STAGE_TYPE=fragments
run "frag 128x256 f4x4 tk32 s1" $F
run "frag 128x128 f4x2 tk32 s2" $F WGFAISS_GEMM_COOP_TILE_N=128 WGFAISS_GEMM_COOP_FRAG_N=2 WGFAISS_GEMM_COOP_STAGES=2
run "frag 128x256 f4x4 tk16 s2" $F WGFAISS_GEMM_COOP_TILE_K=16 WGFAISS_GEMM_COOP_STAGES=2
run "frag 256x128 f4x4 tk32 s1" $F WGFAISS_GEMM_COOP_TILE_M=256 WGFAISS_GEMM_COOP_TILE_N=128
run "frag 128x128 f4x4 tk32 s2 (4sg)" $F WGFAISS_GEMM_COOP_TILE_N=128 WGFAISS_GEMM_COOP_STAGES=2
run "default (f16 staging 128x256)"
timeout 60 ./t_gemm f16 2>&1 | grep -E "^test |^test result|panicked" -A3 | head -8
