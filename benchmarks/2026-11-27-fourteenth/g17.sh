# Final commit: tests on the card; key tiles from the entry's threshold against the teams kernel.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
timeout 300 ./t_knn_half > $O/t_knn_half.txt 2>&1; echo "t_knn_half: $(grep -E 'test result|FAILED|panicked' $O/t_knn_half.txt | head -5)"
timeout 300 ./t_flat > $O/t_flat.txt 2>&1; echo "t_flat: $(grep -E 'test result|FAILED|panicked' $O/t_flat.txt | head -5)"
for nq in 48 64 192 384; do
  for t in 0 33; do echo "== nq $nq tiled-from $t"; WGFAISS_KNN_HALF_KEYS_TILED=$t timeout 100 ./wgfaiss bench flat --nq $nq --k 10 --precisions exact --iters 5 --single 0 2>&1 | grep -E "d=128 batch"; done
done
