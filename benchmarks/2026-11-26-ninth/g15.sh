echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name --format=csv,noheader
for t in t_topk t_flat; do timeout 100 ./$t 2>&1 | grep -E "test result|panicked" -A3 | head -4; done
echo "== old binary (50cb003)"; timeout 60 ./wgfaiss_old bench topk --iters 5 2>&1 | grep -E "stream_read|topk"
echo "== new"; timeout 60 ./wgfaiss bench topk --iters 5 2>&1 | grep -E "stream_read|topk"
for b in wgfaiss_old wgfaiss; do echo "== $b k=1000 (unfused: GEMM tiles + top-k)"; timeout 120 ./$b bench flat --nq 10000 --k 1000 --single 0 --iters 3 --precisions exact 2>&1 | grep -E "batch|rror"; done
