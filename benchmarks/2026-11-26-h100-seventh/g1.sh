echo commit $(cat commit.txt)
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv
./t_gemm f16 2>&1 | grep -E "^test |^test result|panicked" -A2 | head -8
python3 peer_gemm.py --shapes 4096x4096x4096,8192x8192x8192 --iters 10
B="./wgfaiss bench gemm --f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
run() { echo "== $1"; shift; env "$@" $B 2>&1 | grep -vE "XDG|^$" | tail -6; }
run "default (128x128x32 f4x2 pad8 s2)"
run "old-like pad0 s1" WGFAISS_GEMM_COOP_PAD=0 WGFAISS_GEMM_COOP_STAGES=1
run "pad8 s1" WGFAISS_GEMM_COOP_STAGES=1
run "128x128 f4x4 (4 sg)" WGFAISS_GEMM_COOP_FRAG_N=4
run "128x128 f2x4" WGFAISS_GEMM_COOP_FRAG_M=2 WGFAISS_GEMM_COOP_FRAG_N=4
run "128x128 tk64 s1" WGFAISS_GEMM_COOP_TILE_K=64 WGFAISS_GEMM_COOP_STAGES=1
run "128x128 tk64 f4x4 s2" WGFAISS_GEMM_COOP_TILE_K=64 WGFAISS_GEMM_COOP_FRAG_N=4
run "256x128 f4x4 s1" WGFAISS_GEMM_COOP_TILE_M=256 WGFAISS_GEMM_COOP_FRAG_N=4 WGFAISS_GEMM_COOP_STAGES=1
run "128x256 f4x4 s1" WGFAISS_GEMM_COOP_TILE_N=256 WGFAISS_GEMM_COOP_FRAG_N=4 WGFAISS_GEMM_COOP_STAGES=1
run "256x128 f8x4 s2 (4 sg)" WGFAISS_GEMM_COOP_TILE_M=256 WGFAISS_GEMM_COOP_FRAG_M=8 WGFAISS_GEMM_COOP_FRAG_N=4
run "128x128 f4x4 s2 pad16" WGFAISS_GEMM_COOP_FRAG_N=4 WGFAISS_GEMM_COOP_PAD=16
