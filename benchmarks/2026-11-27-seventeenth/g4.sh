# Survivors with the sixteenth-of-cap rule: 1 024 - 4 096 queries against the fused kernel; serve.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
F="bench flat --k 10 --single 0 --precisions exact"
for nq in 512 1024 2048 4096; do for s in 0 1 0 1; do echo "== flat nq $nq survivors $s: $(WGFAISS_KNN_HALF_SURVIVORS=$s WGFAISS_KNN_HALF_SURVIVOR_QUERIES=$((s*10000)) timeout 60 ./wgfaiss $F --nq $nq --iters 3 2>&1 | grep -v XDG | tail -1)"; done; done
for nq in 64 128; do for s in 0 1; do echo "== flat nq $nq survivors $s: $(WGFAISS_KNN_HALF_SURVIVORS=$s timeout 60 ./wgfaiss $F --nq $nq --iters 5 2>&1 | grep -v XDG | tail -1)"; done; done
for s in 0 1 0 1; do echo "== serve flat survivors $s"; WGFAISS_KNN_HALF_SURVIVORS=$s timeout 100 ./wgfaiss bench serve --index flat 2>&1 | grep -v XDG | tail -9; done
