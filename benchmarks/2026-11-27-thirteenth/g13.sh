# f16 GEMM tile re-sweep with 16-byte fetches (a26ed9e).
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
run() { echo "== $1"; shift; env "$@" timeout 60 ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | tail -4 | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1)} NF<=5{print}'; }
M=WGFAISS_GEMM_COOP_TILE_M; N=WGFAISS_GEMM_COOP_TILE_N; K=WGFAISS_GEMM_COOP_TILE_K; FM=WGFAISS_GEMM_COOP_FRAG_M; FN=WGFAISS_GEMM_COOP_FRAG_N; ST=WGFAISS_GEMM_COOP_STAGES
run "ref 128x256x48" X=1
run "128x256x32" $K=32
run "256x128x48" $M=256 $N=128
run "128x128x64 f4x4" $N=128 $K=64
run "128x128x48 f4x4" $N=128
run "128x256x16 s2" $K=16 $ST=2
run "ref again" X=1
python3 peer_gemm.py --shapes 4096x4096x4096,8192x8192x8192 --iters 10 2>&1 | grep -v float32
