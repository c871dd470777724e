echo commit $(cat commit.txt) "(+ config: knn.target_groups 512, half_col_pad 4 for H100/H200)"; date -u
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv
echo "=== torch peers (fp32 no tf32; f16 matmul + top 26 + fp32 re-rank)"
timeout 240 python3 peer_flat.py --nb 1000000 --nq 10000 --k 10,100 --half --iters 2
echo "=== ours: new"
timeout 300 ./wgfaiss bench flat --nq 10000 --k 10,100,1000 --single 100 --iters 3 --precisions exact,f16 2>&1 | grep -E "batch|single|rror|skipped"
echo "=== ours: before (acc8dae)"
timeout 300 ./wgfaiss_old bench flat --nq 10000 --k 10,100 --single 100 --iters 3 --precisions exact,f16 2>&1 | grep -E "batch|single|rror"
echo "=== d 96, 768: new"
timeout 240 ./wgfaiss bench flat --nq 10000 --k 10 --dim 96,768 --single 0 --iters 2 --precisions exact,f16 2>&1 | grep -E "batch|rror"
echo "=== f16 col pad 0 / 8"
for pad in 0 8; do WGFAISS_KNN_HALF_COL_PAD=$pad timeout 60 ./wgfaiss bench flat --nq 10000 --k 10 --single 0 --iters 3 --precisions f16 2>&1 | grep -E "batch"; done
echo "=== topk new / old"
timeout 120 ./wgfaiss bench topk --iters 5 2>&1 | grep -vE "XDG|^$" | tail -6
timeout 120 ./wgfaiss_old bench topk --iters 5 2>&1 | grep -vE "XDG|^$" | tail -6
echo "=== ivf new / old"
timeout 200 ./wgfaiss bench ivf --nprobe 16,64 --single 20 2>&1 | grep -vE "XDG|^$" | tail -8
timeout 200 ./wgfaiss_old bench ivf --nprobe 16,64 --single 20 2>&1 | grep -vE "XDG|^$" | tail -8
