# Tiled f16 key kernel (vec4 key writes; knn.half_keys_tiled = 33 in the H100 entry): tests on the
# card, the threshold (tiled from 1 query vs never), serving with the entry vs never.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
timeout 300 ./t_knn_half > $O/t_knn_half.txt 2>&1; echo "t_knn_half: $(grep -E 'test result|FAILED|panicked' $O/t_knn_half.txt | head -5)"
timeout 300 ./t_flat > $O/t_flat.txt 2>&1; echo "t_flat: $(grep -E 'test result|FAILED|panicked' $O/t_flat.txt | head -5)"
for nq in 24 32 48 96 128; do
  for t in 0 1; do echo "== nq $nq tiled-from $t"; WGFAISS_KNN_HALF_KEYS_TILED=$t timeout 100 ./wgfaiss bench flat --nq $nq --k 10 --precisions exact --iters 5 --single 0 2>&1 | grep -E "d=128 batch"; done
done
for t in 0 33 0 33; do echo "== serve flat tiled-from $t"; WGFAISS_KNN_HALF_KEYS_TILED=$t timeout 150 ./wgfaiss bench serve --index flat --precision exact 2>&1 | grep -vE "XDG|^$" | tail -6 | head -5; done
