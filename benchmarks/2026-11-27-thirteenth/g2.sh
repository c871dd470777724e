# Trusted coop families now the default: GEMM tile sweep and fused f16 search sweep.
echo commit $(cat commit.txt) + trusted coop default; date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
run() { echo "== $1"; shift; env "$@" timeout 60 ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | tail -4 | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1)} NF<=5{print}'; }
M=WGFAISS_GEMM_COOP_TILE_M; N=WGFAISS_GEMM_COOP_TILE_N; K=WGFAISS_GEMM_COOP_TILE_K; FM=WGFAISS_GEMM_COOP_FRAG_M; FN=WGFAISS_GEMM_COOP_FRAG_N; P=WGFAISS_GEMM_COOP_PAD; ST=WGFAISS_GEMM_COOP_STAGES; TY=WGFAISS_GEMM_COOP_STAGE_TYPE; W=WGFAISS_GEMM_COOP_STAGE_WIDTH
run "ref trusted 128x256x48 halves w4" X=1
run "checked" WGFAISS_EXP_CHECKED=coop
run "k32" $K=32
run "k64" $K=64
run "256x128x48" $M=256 $N=128
run "pad 16" $P=16
run "pad 0" $P=0
run "width 2" $W=2
run "auto stage (fragments for nn) k32" $TY=auto $K=32 $W=1
run "128x128x32 f4x2 s2 halves w4" $N=128 $FN=2 $K=32 $ST=2
run "128x128x32 f4x2 s2 fragments" $N=128 $FN=2 $K=32 $ST=2 $TY=fragments $W=1
run "ref again" X=1
python3 peer_gemm.py --shapes 4096x4096x4096,8192x8192x8192 --iters 10 2>&1 | grep -v float32
F() { env "$@" timeout 90 ./wgfaiss bench flat --nq 10000 --k 10 --precisions f16 --iters 3 --single 0 2>&1 | grep -E "d=128 batch"; }
echo "-- profile f16 10000"; WGFAISS_PROFILE=1 timeout 60 ./wgfaiss bench flat --nq 10000 --k 10 --precisions f16 --iters 2 --single 0 2>&1 | grep -A10 "WGFAISS_PROFILE: " | head -12
for v in X=1 WGFAISS_EXP_CHECKED=half WGFAISS_KNN_HALF_TEAMS=4 WGFAISS_KNN_HALF_STAGE=0 WGFAISS_KNN_HALF_COL_PAD=0 WGFAISS_KNN_TARGET_GROUPS=256 WGFAISS_KNN_TARGET_GROUPS=1024 X=1; do echo "-- 10000 f16 $v $(F $v)"; done
