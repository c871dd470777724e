echo commit $(cat commit.txt)
for b in wgfaiss_before wgfaiss; do
echo "== $b: one query and 4, profile"
WGFAISS_PROFILE=1 timeout 120 ./$b bench flat --nq 4 --k 10 --single 50 --iters 5 --precisions exact,f16 2>&1 | grep -vE "XDG|^$" | grep -E "single|batch|knn_stream|topk|rerank|merge|ms +[0-9]+ x" | head -30
done
for b in wgfaiss_before wgfaiss; do
echo "== $b: batch + single"
timeout 200 ./$b bench flat --nq 10000 --k 10 --single 100 --iters 3 --precisions exact,f16 2>&1 | grep -vE "XDG|^$"
done
timeout 120 python3 peer_flat.py --nb 1000000 --nq 10000 --k 10 --half --iters 3
for b in wgfaiss_before wgfaiss; do
echo "== $b: ivf"
timeout 200 ./$b bench ivf --nprobe 16,64 --single 50 2>&1 | grep -vE "XDG|^$" | tail -8
done
for t in t_topk t_knn t_flat t_ivf; do echo "== $t"; timeout 300 ./$t 2>&1 | grep -E "^test result|panicked" -A3 | head -6; done
