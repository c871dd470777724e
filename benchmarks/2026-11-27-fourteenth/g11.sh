# Tiled f16 key kernel (knn.half_keys_tiled = 1) against the teams kernel (0): tests on the card,
# mid-size GPU times, serving.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
timeout 300 ./t_knn_half > $O/t_knn_half.txt 2>&1; echo "t_knn_half: $(grep -E 'test result|FAILED|panicked' $O/t_knn_half.txt | head -5)"
timeout 300 ./t_flat > $O/t_flat.txt 2>&1; echo "t_flat: $(grep -E 'test result|FAILED|panicked' $O/t_flat.txt | head -5)"
for nq in 16 64 192; do
  for t in 0 1 0 1; do echo "== nq $nq tiled $t"; WGFAISS_KNN_HALF_KEYS_TILED=$t timeout 100 ./wgfaiss bench flat --nq $nq --k 10 --precisions exact,f16 --iters 5 --single 0 2>&1 | grep -E "d=128 batch"; done
done
echo "== profile nq 64 tiled"; WGFAISS_PROFILE=1 timeout 100 ./wgfaiss bench flat --nq 64 --k 10 --precisions exact --iters 1 --single 0 2>&1 | grep -E " x |batch" | tail -9
for t in 0 1 0 1; do echo "== serve flat tiled $t"; WGFAISS_KNN_HALF_KEYS_TILED=$t timeout 150 ./wgfaiss bench serve --index flat --precision exact 2>&1 | grep -vE "XDG|^$" | tail -6; done
