# Eleventh session, final figures on one card (all in one call).
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
echo "== tests"; for t in t_knn_half t_topk t_flat; do timeout 120 ./$t > $O/$t.txt 2>&1; grep -E "test result|FAILED|panicked" $O/$t.txt | head -4; done
echo "== tune tiles,exact"; timeout 150 ./wgfaiss tune --families tiles,exact --out $O/tuned.json 2>&1 | grep -vE "XDG"
echo "== bench flat, small batches (f32 kernel, Exact)"
for n in 5 8 16 32 64 128 192 256 512; do timeout 40 ./wgfaiss bench flat --nq $n --k 10 --precisions f32,exact --iters 7 --single 0 2>&1 | grep 'd=128 batch'; done
for n in 64 256 512; do timeout 40 ./wgfaiss bench flat --nq $n --k 100 --precisions f32,exact --iters 5 --single 0 2>&1 | grep 'd=128 batch'; done
echo "== torch fp32, small batches"
for n in 16 64 256 512; do timeout 60 python3 peer_flat.py --nb 1000000 --nq $n --dim 128 --k 10,100 --iters 5 2>&1 | grep "batch"; done
echo "== profile"
for n in 16 64 256; do echo "-- $n"; WGFAISS_PROFILE=1 timeout 40 ./wgfaiss bench flat --nq $n --k 10 --precisions exact --iters 3 --single 0 2>&1 | grep -A9 "WGFAISS_PROFILE: " | tail -9; done
echo "== flat 10 000 (regression check)"; timeout 90 ./wgfaiss bench flat --nq 10000 --k 10,100 --precisions exact --iters 3 --single 20 2>&1 | grep -E "d=128 (batch|single)"
timeout 90 python3 peer_flat.py --nb 1000000 --nq 10000 --dim 128 --k 10 --iters 2 2>&1 | grep -E "batch|single"
echo "== serve flat exact"; timeout 100 ./wgfaiss bench serve --index flat --precision exact 2>&1 | grep -vE "XDG"
