echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
echo "== tests"; timeout 150 ./t_flat 2>&1 | grep -E "test result|panicked" -A3 | head -6
timeout 150 ./t_knn_half 2>&1 | grep -E "test result|panicked" -A3 | head -6
timeout 300 ./wgfaiss bench flat --nq 10000 --k 10,100 --single 100 --iters 3 --precisions exact,f16,f16-verified 2>&1 | grep -vE "XDG|^$|added"
timeout 200 ./wgfaiss bench flat --nq 10000 --dim 96,768 --k 10 --single 0 --iters 3 --precisions exact,f16-verified 2>&1 | grep -vE "XDG|^$|added"
timeout 200 ./wgfaiss bench flat --nq 10000 --k 10 --metric ip --single 0 --iters 3 --precisions exact,f16-verified 2>&1 | grep -vE "XDG|^$|added"
timeout 120 python3 peer_flat.py --nb 1000000 --nq 10000 --k 10,100 --half --iters 2
