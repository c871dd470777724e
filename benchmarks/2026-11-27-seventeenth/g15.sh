# The review commit on the card: tests of the survivors and tile forms, the 64 / 1 024-query search with torch.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
for t in t_knn_half t_flat; do timeout 200 ./$t > $O/$t.txt 2>&1; echo "$t: $(grep -E 'test result|FAILED|panicked' $O/$t.txt | head -5)"; done
F="bench flat --k 10 --single 0 --precisions exact"
for nq in 64 1024; do for s in 1 0; do echo "== flat nq $nq survivors $s: $(WGFAISS_KNN_HALF_SURVIVORS=$s timeout 60 ./wgfaiss $F --nq $nq --iters 3 2>&1 | grep -v XDG | tail -1)"; done; done
echo "== torch"; timeout 120 python3 peer_flat.py --nb 1000000 --nq 64 --dim 128 --k 10 --iters 5 2>&1 | grep batch
