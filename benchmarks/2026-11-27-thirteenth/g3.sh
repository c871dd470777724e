# f16 GEMM tiles with the trusted kernel: shapes that leave room for two stages or two workgroups per SM.
echo commit $(cat commit.txt) + trusted coop default; date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
run() { echo "== $1"; shift; env "$@" timeout 60 ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | tail -4 | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1)} NF<=5{print}'; }
M=WGFAISS_GEMM_COOP_TILE_M; N=WGFAISS_GEMM_COOP_TILE_N; K=WGFAISS_GEMM_COOP_TILE_K; FM=WGFAISS_GEMM_COOP_FRAG_M; FN=WGFAISS_GEMM_COOP_FRAG_N; P=WGFAISS_GEMM_COOP_PAD; ST=WGFAISS_GEMM_COOP_STAGES; TY=WGFAISS_GEMM_COOP_STAGE_TYPE; W=WGFAISS_GEMM_COOP_STAGE_WIDTH
run "ref 128x256x48 s1" X=1
run "128x256x16 s2" $K=16 $ST=2
run "128x256x16 s1" $K=16
run "128x128x48 f4x4 (4 sg)" $N=128
run "128x128x32 f4x4 s2 (4 sg)" $N=128 $K=32 $ST=2
run "128x128x64 f4x4 (4 sg)" $N=128 $K=64
run "64x256x48 f4x4 (4 sg)" $M=64
run "256x256x32 f4x4 (16 sg)" $M=256 $K=32
run "256x256x16 f4x4 s2 (16 sg)" $M=256 $K=16 $ST=2
run "ref again" X=1
python3 peer_gemm.py --shapes 4096x4096x4096,8192x8192x8192 --iters 10 2>&1 | grep -v float32
