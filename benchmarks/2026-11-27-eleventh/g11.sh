echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
echo "== tests"; for t in t_knn t_gemm t_topk t_flat; do timeout 100 ./$t > $O/$t.txt 2>&1; grep -E "test result|FAILED|panicked" $O/$t.txt | head -4; done
echo "== flat large k"; timeout 150 ./wgfaiss bench flat --nq 10000 --k 1000,2048 --precisions exact --iters 3 --single 20 2>&1 | grep -E "d=128 (batch|single)"
echo "== flat k=100 f32, and mid-size f32 k=20"; timeout 100 ./wgfaiss bench flat --nq 10000 --k 100 --precisions f32 --iters 3 --single 0 2>&1 | grep -E "d=128 batch"
for n in 16 64 256; do timeout 40 ./wgfaiss bench flat --nq $n --k 20 --precisions f32 --iters 5 --single 0 2>&1 | grep 'd=128 batch'; done
echo "== profile one 536-query tile, k=1000"; WGFAISS_PROFILE=1 timeout 60 ./wgfaiss bench flat --nq 536 --k 1000 --precisions exact --iters 2 --single 0 2>&1 | grep -A8 "WGFAISS_PROFILE: " | tail -8
echo "== torch"; timeout 200 python3 peer_flat.py --nb 1000000 --nq 10000 --dim 128 --k 1000,2048 --iters 2 2>&1 | grep -E "batch|single"
