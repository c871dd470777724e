# Final GEMM: ordered + interleaved staged stores against 212486c (ordered only), torch in the same call.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
timeout 300 ./t_gemm > $O/t_gemm.txt 2>&1; echo "t_gemm: $(grep -E 'test result|FAILED|panicked' $O/t_gemm.txt | head -5)"
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
for b in wgfaiss_old wgfaiss wgfaiss_old wgfaiss wgfaiss_old wgfaiss; do echo "== gemm f16 $b"; timeout 60 ./$b bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | tail -4 | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1)} NF<=5{print}'; done
echo "== torch gemm"
timeout 120 python3 peer_gemm.py --shapes 4096x4096x4096,8192x8192x8192 --iters 10 2>&1 | grep -v float32
