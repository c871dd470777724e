# Final: tests on the card; old (2097637) vs new binary in the same call: flat, top-k, GEMM; torch peers.
echo commit $(cat commit.txt) "(old binary: 2097637; confirmation)"; date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
for t in t_gemm t_knn_half t_topk t_flat t_ivf; do timeout 200 ./$t > $O/$t.txt 2>&1; echo "$t: $(grep -E 'test result|FAILED|panicked' $O/$t.txt | head -3)"; done
F() { timeout 150 ./$1 bench flat --nq 10000 --k 10,100 --single 20 --iters 3 --precisions exact,f16 2>&1 | grep -E "d=128 (batch|single)"; }
for b in wgfaiss_old wgfaiss wgfaiss_old wgfaiss; do echo "== flat $b"; F $b; done
for b in wgfaiss_old wgfaiss; do echo "== topk $b"; timeout 60 ./$b bench topk --k 10,100,1024 --iters 5 2>&1 | grep -E "stream_read|topk k=.*smallest"; done
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
for b in wgfaiss_old wgfaiss; do echo "== gemm f16 $b"; timeout 60 ./$b bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | tail -4 | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1)} NF<=5{print}'; done
echo "== torch"
timeout 120 python3 peer_gemm.py --shapes 4096x4096x4096,8192x8192x8192 --iters 10 2>&1 | grep -v float32
timeout 120 python3 peer_topk.py --k 10,100,1024 --iters 5 2>&1 | tail -4
timeout 200 python3 peer_flat.py --nb 1000000 --nq 10000 --dim 128 --k 10,100 --iters 2 2>&1 | tail -3
timeout 200 python3 peer_flat.py --nb 1000000 --nq 10000 --dim 128 --k 10,100 --iters 2 --half 2>&1 | tail -3
