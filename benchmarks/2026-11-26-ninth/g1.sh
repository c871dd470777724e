echo commit $(cat commit.txt)
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv
for w in 1 2 4; do for st in halves fragments; do
echo "== t_gemm f16 width $w $st"
WGFAISS_GEMM_COOP_STAGE_WIDTH=$w WGFAISS_GEMM_COOP_STAGE_TYPE=$st timeout 60 ./t_gemm f16 2>&1 | grep -E "^test |^test result|panicked|NVVM" -A2 | head -6
done; done
python3 peer_gemm.py --shapes 4096x4096x4096,8192x8192x8192 --iters 10 2>&1 | grep -v float32
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
run() { echo "== $1"; shift; env "$@" timeout 60 ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | tail -4; }
for w in 1 2 4; do
run "auto width $w" WGFAISS_GEMM_COOP_STAGE_WIDTH=$w
run "halves width $w" WGFAISS_GEMM_COOP_STAGE_WIDTH=$w WGFAISS_GEMM_COOP_STAGE_TYPE=halves
run "fragments width $w" WGFAISS_GEMM_COOP_STAGE_WIDTH=$w WGFAISS_GEMM_COOP_STAGE_TYPE=fragments
done
run "halves width 4 128x128 f4x2 s2" WGFAISS_GEMM_COOP_STAGE_WIDTH=4 WGFAISS_GEMM_COOP_STAGE_TYPE=halves WGFAISS_GEMM_COOP_TILE_N=128 WGFAISS_GEMM_COOP_FRAG_N=2 WGFAISS_GEMM_COOP_STAGES=2
run "halves width 4 tk64" WGFAISS_GEMM_COOP_STAGE_WIDTH=4 WGFAISS_GEMM_COOP_STAGE_TYPE=halves WGFAISS_GEMM_COOP_TILE_N=128 WGFAISS_GEMM_COOP_FRAG_N=2 WGFAISS_GEMM_COOP_TILE_K=64
