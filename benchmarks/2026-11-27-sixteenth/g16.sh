# Final: gemm.coop_stage_width = auto (2 for A*B, 4 for A*B^T) in the H100 entry against 4 for both (override), swapped; t_gemm on the card; torch in the same call.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
timeout 300 ./t_gemm > $O/t_gemm.txt 2>&1; echo "t_gemm: $(grep -E 'test result|FAILED|panicked' $O/t_gemm.txt | head -5)"
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
V() { echo "== $*"; env "$@" timeout 60 ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1), $NF} NF<=5{print}'; }
for i in 1 2; do
V WGFAISS_GEMM_COOP_STAGE_WIDTH=4
V X=entry
done
echo "== torch gemm"; timeout 120 python3 peer_gemm.py --shapes 4096x4096x4096,8192x8192x8192 --iters 10 2>&1 | grep -v float32
echo "== torch gemm sustained"; timeout 120 python3 peer_gemm.py --sustained --shapes 4096x4096x4096,8192x8192x8192 --iters 10 2>&1 | grep -v float32
V X=entry-after-torch
