echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv
echo "=== torch peers (fp32 no tf32; f16 matmul + top kc + fp32 re-rank)"
timeout 240 python3 peer_flat.py --nb 1000000 --nq 10000 --k 10,100 --half --iters 2
echo "=== ours: new"
timeout 300 ./wgfaiss bench flat --nq 10000 --k 10,100 --single 100 --iters 3 --precisions exact,f16 2>&1 | grep -E "batch|single|rror|skipped"
echo "=== ours: before (acc8dae)"
timeout 300 ./wgfaiss_old bench flat --nq 10000 --k 10 --single 100 --iters 3 --precisions exact,f16 2>&1 | grep -E "batch|single|rror"
echo "=== d 96: new"
timeout 240 ./wgfaiss bench flat --nq 10000 --k 10 --dim 96 --single 0 --iters 2 --precisions exact,f16 2>&1 | grep -E "batch|rror"
echo "=== pad / target_groups (f16 / exact)"
WGFAISS_KNN_HALF_COL_PAD=0 timeout 60 ./wgfaiss bench flat --nq 10000 --k 10 --single 0 --iters 3 --precisions f16 2>&1 | grep -E "batch"
WGFAISS_KNN_TARGET_GROUPS=1024 timeout 100 ./wgfaiss bench flat --nq 10000 --k 10,100 --single 0 --iters 3 --precisions exact,f16 2>&1 | grep -E "batch"
echo "=== tests"; for t in t_knn_half t_topk t_knn t_flat; do timeout 200 ./$t 2>&1 | grep -E "test result|panicked" -A3 | head -6; done
echo "=== serve"
timeout 150 ./wgfaiss bench serve --index flat 2>&1 | grep -vE "XDG|^$" | tail -6
timeout 200 ./wgfaiss bench serve --index ivf --nprobe 64 2>&1 | grep -vE "XDG|^$" | tail -6
