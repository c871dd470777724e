echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
echo "== tests"; for t in t_knn_half t_topk t_flat; do timeout 150 ./$t 2>&1 | grep -E "result|FAILED|panicked" | head -3; done
echo "== tune tiles,exact"; timeout 200 ./wgfaiss tune --families tiles,exact --out $O/tuned.json 2>&1 | grep -vE "XDG"
echo "== bench flat small batches"
for n in 8 16 32 64 128 192 256; do timeout 60 ./wgfaiss bench flat --nq $n --k 10 --precisions f32,exact --iters 7 --single 0 2>&1 | grep 'd=128 batch'; done
for n in 64 256; do timeout 60 ./wgfaiss bench flat --nq $n --k 100 --precisions f32,exact --iters 5 --single 0 2>&1 | grep 'd=128 batch'; done
echo "== serve flat exact"; timeout 150 ./wgfaiss bench serve --index flat --precision exact 2>&1 | grep -vE "XDG"
