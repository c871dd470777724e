# Survivors for large batches (knn.half_survivor_queries), profile of 64, serve.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
F="bench flat --k 10 --single 0"
for nq in 1024 10000; do for s in 0 1 0 1; do echo "== flat nq $nq survivors $s"; WGFAISS_KNN_HALF_SURVIVORS=$s WGFAISS_KNN_HALF_SURVIVOR_QUERIES=$((s*10000)) timeout 90 ./wgfaiss $F --nq $nq --precisions exact,f16 --iters 3 2>&1 | grep -v XDG | tail -3; done; done
for s in 0 1; do echo "== profile nq 64 survivors $s"; WGFAISS_PROFILE=1 WGFAISS_KNN_HALF_SURVIVORS=$s timeout 60 ./wgfaiss $F --nq 64 --precisions exact --iters 3 2>&1 | grep -v XDG | tail -14; done
for s in 0 1 0 1; do echo "== serve flat survivors $s"; WGFAISS_KNN_HALF_SURVIVORS=$s timeout 100 ./wgfaiss bench serve --index flat 2>&1 | grep -v XDG | tail -9; done
