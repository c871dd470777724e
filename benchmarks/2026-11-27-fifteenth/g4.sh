# Staged pieces stored in a bank-model order (GEMM and mid-size key tiles): tests, old/new A/B, torch.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
for t in t_gemm t_knn_half t_flat; do timeout 300 ./$t > $O/$t.txt 2>&1; echo "$t: $(grep -E 'test result|FAILED|panicked' $O/$t.txt | head -5)"; done
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
for b in wgfaiss_old wgfaiss wgfaiss_old wgfaiss; do echo "== gemm f16 $b"; timeout 60 ./$b bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | tail -4 | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1)} NF<=5{print}'; done
for b in wgfaiss_old wgfaiss; do echo "== profile nq 64 $b"; WGFAISS_PROFILE=1 timeout 100 ./$b bench flat --nq 64 --k 10 --precisions exact --iters 1 --single 0 2>&1 | grep -E "half_keys" | tail -1; done
for nq in 64 192; do
  for b in wgfaiss_old wgfaiss wgfaiss_old wgfaiss; do echo "== nq $nq $b"; timeout 100 ./$b bench flat --nq $nq --k 10 --precisions exact --iters 5 --single 0 2>&1 | grep -E "d=128 batch"; done
done
echo "== torch gemm"
timeout 120 python3 peer_gemm.py --shapes 4096x4096x4096,8192x8192x8192 --iters 10 2>&1 | grep -v float32
echo "== torch flat nq 64"; timeout 120 python3 peer_flat.py --nb 1000000 --nq 64 --dim 128 --k 10 --iters 5 2>&1 | tail -2
