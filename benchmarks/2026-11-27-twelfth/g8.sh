# f16 GEMM: more subgroups per workgroup (fewer accumulators each), same call as torch.
echo commit $(cat commit.txt); date -u
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
run() { echo "== $1"; shift; env "$@" timeout 60 ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | tail -4 | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1)} NF<=5{print}'; }
M=WGFAISS_GEMM_COOP_TILE_M; N=WGFAISS_GEMM_COOP_TILE_N; K=WGFAISS_GEMM_COOP_TILE_K; FM=WGFAISS_GEMM_COOP_FRAG_M; FN=WGFAISS_GEMM_COOP_FRAG_N
run "ref 128x256x48 f4x4 (8 sg)"
run "128x256x48 f2x4 (16 sg)" $FM=2
run "128x256x48 f4x2 (16 sg)" $FN=2
run "128x256x32 f2x4 (16 sg)" $FM=2 $K=32
run "128x128x48 f2x2 (16 sg)" $N=128 $FM=2 $FN=2
run "128x128x32 f2x2 (16 sg)" $N=128 $FM=2 $FN=2 $K=32
run "256x128x48 f4x2 (16 sg)" $M=256 $N=128 $FN=2
run "64x256x48 f2x4 (8 sg)" $M=64 $FM=2
run "ref again"
python3 peer_gemm.py --shapes 4096x4096x4096,8192x8192x8192 --iters 10 2>&1 | grep -v float32
