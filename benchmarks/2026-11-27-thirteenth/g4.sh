# f16 GEMM (trusted): 16-byte fetches of staged pieces; tiles in groups of G tile rows.
echo commit $(cat commit.txt) + trusted coop + ld16/swz experiments; date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
for v in "WGFAISS_EXP_GEMM=ld16" "WGFAISS_EXP_SWZ=8" "WGFAISS_EXP_SWZ=5"; do env $v timeout 100 ./t_gemm > $O/t_gemm.txt 2>&1; echo "t_gemm $v: $(grep -E 'test result|FAILED|panicked' $O/t_gemm.txt | head -3)"; done
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
run() { echo "== $1"; shift; env "$@" timeout 60 ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | tail -4 | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1)} NF<=5{print}'; }
run "ref" X=1
run "ld16" WGFAISS_EXP_GEMM=ld16
run "swz 4" WGFAISS_EXP_SWZ=4
run "swz 8" WGFAISS_EXP_SWZ=8
run "swz 16" WGFAISS_EXP_SWZ=16
run "ref" X=1
run "ld16" WGFAISS_EXP_GEMM=ld16
run "ld16 swz 8" WGFAISS_EXP_GEMM=ld16 WGFAISS_EXP_SWZ=8
python3 peer_gemm.py --shapes 4096x4096x4096,8192x8192x8192 --iters 10 2>&1 | grep -v float32
