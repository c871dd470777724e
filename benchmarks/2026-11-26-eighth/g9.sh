echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
F="bench flat --nq 10000 --k 10 --single 0 --iters 3 --precisions f16"
echo "== default"; timeout 90 ./wgfaiss $F 2>&1 | grep -E "batch|rror"
for dbg in keys=8 keys=16 group=2 group=1 group=8 "keys=8,group=2"; do echo "== $dbg"; WGFAISS_HALF_DEBUG=$dbg timeout 60 ./wgfaiss $F 2>&1 | grep -E "batch|rror" | head -3; done
echo "== unroll 0 (t8, unstaged)"; WGFAISS_KNN_HALF_UNROLL=0 timeout 60 ./wgfaiss $F 2>&1 | grep -E "batch|rror" | head -3
echo "== unroll 0 (t4)"; WGFAISS_KNN_HALF_TEAMS=4 WGFAISS_KNN_HALF_UNROLL=0 timeout 60 ./wgfaiss $F 2>&1 | grep -E "batch|rror" | head -3
echo "== t4 staged"; WGFAISS_KNN_HALF_TEAMS=4 timeout 60 ./wgfaiss $F 2>&1 | grep -E "batch|rror" | head -3
echo "== t6 staged"; WGFAISS_KNN_HALF_TEAMS=6 timeout 60 ./wgfaiss $F 2>&1 | grep -E "batch|rror" | head -3
