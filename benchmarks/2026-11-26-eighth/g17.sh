echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
F="bench flat --nq 10000 --k 10,100 --single 50 --iters 3 --precisions exact"
for i in 1 2; do
echo "== prev (37b2e0a)"; timeout 200 ./wgfaiss_prev $F 2>&1 | grep -E "batch|single|rror"
echo "== new (norms prefetched)"; timeout 200 ./wgfaiss $F 2>&1 | grep -E "batch|single|rror"
done
echo "== ivf prev / new"
timeout 200 ./wgfaiss_prev bench ivf --nprobe 16,64 --single 20 --scans fused,keys 2>&1 | grep -E "fused|keys" | tail -4
timeout 200 ./wgfaiss bench ivf --nprobe 16,64 --single 20 --scans fused,keys 2>&1 | grep -E "fused|keys" | tail -4
echo "== tests"; for t in t_knn t_ivf; do timeout 200 ./$t 2>&1 | grep -E "test result|panicked" -A3 | head -6; done
