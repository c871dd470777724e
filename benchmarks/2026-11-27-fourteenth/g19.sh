# Mid-size batches with the torch peer in the same call: 64 and 192 queries, k = 10.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
for nq in 64 192; do
  for t in 0 33; do echo "== nq $nq tiled-from $t"; WGFAISS_KNN_HALF_KEYS_TILED=$t timeout 100 ./wgfaiss bench flat --nq $nq --k 10 --precisions exact --iters 5 --single 0 2>&1 | grep -E "d=128 batch"; done
  echo "== torch nq $nq"; timeout 120 python3 peer_flat.py --nb 1000000 --nq $nq --dim 128 --k 10 --iters 5 2>&1 | tail -3
done
