# Eleventh session: the same binaries on an H200 (confirmation).
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
echo "== tests"; for t in t_knn_half t_knn t_gemm t_topk t_flat; do timeout 100 ./$t > $O/$t.txt 2>&1; grep -E "test result|FAILED|panicked" $O/$t.txt | head -4; done
echo "== tune tiles,exact"; timeout 150 ./wgfaiss tune --families tiles,exact --out $O/tuned.json 2>&1 | grep -vE "XDG"
echo "== flat 10 000"; timeout 150 ./wgfaiss bench flat --nq 10000 --k 10,1000,2048 --precisions exact --iters 3 --single 20 2>&1 | grep -E "d=128 (batch|single)"
echo "== torch"; timeout 200 python3 peer_flat.py --nb 1000000 --nq 10000 --dim 128 --k 10,1000,2048 --iters 2 2>&1 | grep -E "batch|single"
for n in 16 64 256; do timeout 60 python3 peer_flat.py --nb 1000000 --nq $n --dim 128 --k 10 --iters 5 2>&1 | grep "batch"; done
