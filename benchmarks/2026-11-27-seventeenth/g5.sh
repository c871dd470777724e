# Final binary (survivors in the H100 entry): card tests, entry against survivors off, torch, serve.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
for t in t_knn_half t_flat t_coalesce; do timeout 200 ./$t > $O/$t.txt 2>&1; echo "$t: $(grep -E 'test result|FAILED|panicked' $O/$t.txt | head -5)"; done
F="bench flat --k 10 --single 0 --precisions exact"
for nq in 64 256 1024 4096 10000; do for s in 1 0 1 0; do echo "== flat nq $nq survivors $s: $(WGFAISS_KNN_HALF_SURVIVORS=$s timeout 60 ./wgfaiss $F --nq $nq --iters 3 2>&1 | grep -v XDG | tail -1)"; done; done
echo "== flat nq 64 k 100 entry: $(timeout 60 ./wgfaiss bench flat --k 100 --single 0 --precisions exact --nq 64 --iters 3 2>&1 | grep -v XDG | tail -1)"
echo "== flat nq 64 k 100 survivors 0: $(WGFAISS_KNN_HALF_SURVIVORS=0 timeout 60 ./wgfaiss bench flat --k 100 --single 0 --precisions exact --nq 64 --iters 3 2>&1 | grep -v XDG | tail -1)"
echo "== torch"; for nq in 64 1024; do timeout 120 python3 peer_flat.py --nb 1000000 --nq $nq --dim 128 --k 10 --iters 5 2>&1 | grep batch; done
for s in 1 0 1 0; do echo "== serve flat survivors $s"; WGFAISS_KNN_HALF_SURVIVORS=$s timeout 100 ./wgfaiss bench serve --index flat 2>&1 | grep -v XDG | tail -9; done
