# On an H200: the swapped f16 GEMM (C^T fragments stored column-major; gemm.coop_swap = yes in the H100 entry) against the unswapped one (WGFAISS_GEMM_COOP_SWAP=no), same binary; t_gemm on the card; torch in the same call.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
timeout 300 ./t_gemm > $O/t_gemm.txt 2>&1; echo "t_gemm: $(grep -E 'test result|FAILED|panicked' $O/t_gemm.txt | head -5)"
G() { timeout 60 "$@" 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1), $NF} NF<=5{print}'; }
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
for i in 1 2; do
echo "== swap no"; WGFAISS_GEMM_COOP_SWAP=no G ./wgfaiss bench gemm $S
echo "== swap yes"; G ./wgfaiss bench gemm $S
done
echo "== torch gemm"; timeout 120 python3 peer_gemm.py --shapes 4096x4096x4096,8192x8192x8192 --iters 10 2>&1 | grep -v float32
echo "== torch gemm sustained"; timeout 120 python3 peer_gemm.py --sustained --shapes 4096x4096x4096,8192x8192x8192 --iters 10 2>&1 | grep -v float32
echo "== swap yes, after torch"; G ./wgfaiss bench gemm $S
