# Survivors (sampled bound, kept keys only) against the key tile: card tests, mid-size batches, serve, torch.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
timeout 240 ./t_knn_half --nocapture > $O/t_knn_half.txt 2>&1; echo "t_knn_half: $(grep -E 'test result|FAILED|panicked' $O/t_knn_half.txt | head -5)"; grep "survivors mean" $O/t_knn_half.txt | head -4
F="bench flat --k 10 --precisions exact --iters 5 --single 0"
for nq in 64 128 384; do for s in 0 1 0 1; do echo "== flat nq $nq survivors $s"; WGFAISS_KNN_HALF_SURVIVORS=$s timeout 60 ./wgfaiss $F --nq $nq 2>&1 | grep -v XDG | tail -3; done; done
for s in 0 1; do echo "== profile nq 64 survivors $s"; WGFAISS_PROFILE=1 WGFAISS_KNN_HALF_SURVIVORS=$s timeout 60 ./wgfaiss $F --nq 64 --iters 3 2>&1 | grep -v XDG | tail -16; done
echo "== torch"; timeout 120 python3 peer_flat.py --nb 1000000 --nq 64 --dim 128 --k 10 --iters 5 2>&1 | tail -3
