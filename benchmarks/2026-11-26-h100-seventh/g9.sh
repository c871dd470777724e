echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv
python3 peer_gemm.py --shapes 4096x4096x4096,8192x8192x8192 --iters 10
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
echo "== before (dc2ef4a)"; timeout 60 ./wgfaiss_old bench gemm $S 2>&1 | grep -vE "XDG|^$"
echo "== after"; timeout 120 ./wgfaiss bench gemm --coop-peak $S 2>&1 | grep -vE "XDG|^$"
timeout 60 ./t_gemm f16 2>&1 | grep -E "^test |^test result|panicked" -A3 | head -6
timeout 120 ./t_knn_half 2>&1 | grep -E "^test result|panicked" -A3 | head -4
timeout 200 ./wgfaiss bench flat --nq 10000 --k 10 --single 50 --iters 2 --precisions exact,f16 2>&1 | grep -vE "XDG|^$"
timeout 120 python3 peer_flat.py --nb 1000000 --nq 10000 --k 10 --half --iters 2
