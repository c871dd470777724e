# GEMM staging order: stores interleaved A/B (1: A first on ties, 2: B first), fetches interleaved too.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
for v in "WGFAISS_EXP_FETCH_INTERLEAVE=1 WGFAISS_EXP_INTERLEAVE=1"; do env $v timeout 200 ./t_gemm > $O/t.txt 2>&1; echo "t_gemm $v: $(grep -E 'test result|FAILED|panicked' $O/t.txt | head -3)"; done
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
for r in 1 2; do
for v in "X=0" "WGFAISS_EXP_INTERLEAVE=1" "WGFAISS_EXP_INTERLEAVE=2" "WGFAISS_EXP_FETCH_INTERLEAVE=1 WGFAISS_EXP_INTERLEAVE=1" "WGFAISS_EXP_FETCH_INTERLEAVE=1"; do echo "== gemm f16 $v"; env $v timeout 60 ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | tail -4 | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1)} NF<=5{print}'; done
done
echo "== torch gemm"
timeout 120 python3 peer_gemm.py --shapes 4096x4096x4096,8192x8192x8192 --iters 10 2>&1 | grep -v float32
