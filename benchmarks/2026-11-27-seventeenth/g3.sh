# Survivors: sampled tiles 100 (auto now) / 200 / 400 / 800 at 64, 128, 384 queries; profile of 10 000.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
F="bench flat --k 10 --single 0 --precisions exact"
for nq in 64 128 384; do for r in 100 200 400 800 100 400; do echo "== flat nq $nq ranges $r: $(WGFAISS_KNN_HALF_SURVIVORS=1 WGFAISS_KNN_HALF_SURVIVOR_RANGES=$r timeout 60 ./wgfaiss $F --nq $nq --iters 5 2>&1 | grep -v XDG | tail -1)"; done; done
for r in 400; do echo "== profile nq 64 ranges $r"; WGFAISS_PROFILE=1 WGFAISS_KNN_HALF_SURVIVORS=1 WGFAISS_KNN_HALF_SURVIVOR_RANGES=$r timeout 60 ./wgfaiss $F --nq 64 --iters 3 2>&1 | grep -v XDG | tail -11; done
echo "== profile nq 10000 survivors"; WGFAISS_PROFILE=1 WGFAISS_KNN_HALF_SURVIVORS=1 WGFAISS_KNN_HALF_SURVIVOR_QUERIES=10000 timeout 90 ./wgfaiss $F --nq 10000 --iters 1 2>&1 | grep -v XDG | tail -11
echo "== profile nq 10000 survivors ranges 1000"; WGFAISS_PROFILE=1 WGFAISS_KNN_HALF_SURVIVORS=1 WGFAISS_KNN_HALF_SURVIVOR_QUERIES=10000 WGFAISS_KNN_HALF_SURVIVOR_RANGES=1000 timeout 90 ./wgfaiss $F --nq 10000 --iters 1 2>&1 | grep -v XDG | tail -11
