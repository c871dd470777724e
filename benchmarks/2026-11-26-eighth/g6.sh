echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
export WGFAISS_KNN_HALF_STAGE=1 WGFAISS_KNN_HALF_TEAMS=8
F="bench flat --nq 10000 --k 10 --single 0 --iters 2 --precisions f16"
for dbg in none branchy noinsert nokeys; do echo "== $dbg"; WGFAISS_HALF_DEBUG=$dbg timeout 60 ./wgfaiss $F 2>&1 | grep -E "batch|rror" | head -3; done
for t in 4 8; do for g in 0 1; do echo "== teams $t stage $g"; WGFAISS_KNN_HALF_STAGE=$g WGFAISS_KNN_HALF_TEAMS=$t timeout 60 ./wgfaiss $F 2>&1 | grep -E "batch|rror" | head -3; done; done
