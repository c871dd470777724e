# Final call of the ninth session: tests, f16 GEMM, top-k and flat search with peers.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
echo "== tests"
for t in t_gemm t_topk t_knn_half t_knn t_flat t_ivf; do echo "-- $t"; timeout 150 ./$t 2>&1 | grep -E "test result|panicked" -A3 | head -6; done
echo "== gemm f16"
python3 peer_gemm.py --shapes 4096x4096x4096,8192x8192x8192 --iters 10 2>&1 | grep -v float32
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
if [ "$OLD" = 1 ]; then echo "-- old binary (50cb003)"; timeout 60 ./wgfaiss_old bench gemm $S 2>&1 | grep -vE "XDG|^$"; fi
timeout 60 ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$"
echo "== topk"
if [ "$OLD" = 1 ]; then echo "-- old binary (50cb003)"; timeout 120 ./wgfaiss_old bench topk --iters 5 2>&1 | grep -vE "XDG|^$"; fi
timeout 120 ./wgfaiss bench topk --iters 5 2>&1 | grep -vE "XDG|^$"
timeout 120 python3 peer_topk.py 2>&1 | tail -5
echo "== flat"
timeout 300 ./wgfaiss bench flat --nq 10000 --k 10,100 --single 100 --iters 3 --precisions exact,f16,f16-verified 2>&1 | grep -vE "XDG|^$|added"
timeout 120 python3 peer_flat.py --nb 1000000 --nq 10000 --k 10,100 --half --iters 2
