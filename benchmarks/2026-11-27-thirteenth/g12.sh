# f16 GEMM: staged pieces unpacked before the barrier (new) against a26ed9e (old), alternating.
echo commit $(cat commit.txt) + unpack before barrier; date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
timeout 100 ./t_gemm > $O/t_gemm.txt 2>&1; echo "t_gemm: $(grep -E 'test result|FAILED|panicked' $O/t_gemm.txt | head -3)"
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
for b in wgfaiss_old wgfaiss wgfaiss_old wgfaiss; do echo "== $b"; timeout 60 ./$b bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | tail -4 | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1)} NF<=5{print}'; done
python3 peer_gemm.py --shapes 4096x4096x4096,8192x8192x8192 --iters 10 2>&1 | grep -v float32
