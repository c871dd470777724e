echo commit $(cat commit.txt)
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv
python3 peer_gemm.py --shapes 4096x4096x4096,8192x8192x8192 --iters 10
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
echo "== old kernel (dc2ef4a)"; ./wgfaiss_old bench gemm $S 2>&1 | grep -vE "XDG|^$" | tail -5
run() { echo "== $1"; shift; env "$@" ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK" | tail -5; }
for U in f16 u32 vec4; do
run "$U pad0 s1" WGFAISS_GEMM_COOP_STAGE_TYPE=$U WGFAISS_GEMM_COOP_PAD=0 WGFAISS_GEMM_COOP_STAGES=1
run "$U pad8 s2" WGFAISS_GEMM_COOP_STAGE_TYPE=$U
done
