echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
F="bench flat --nq 10000 --k 10 --single 0 --iters 3 --precisions f16"
echo "== old"; timeout 90 ./wgfaiss_old $F 2>&1 | grep -E "batch"
echo "== new heap"; timeout 90 ./wgfaiss $F 2>&1 | grep -E "batch"
echo "== nokeys"; WGFAISS_HALF_DEBUG=nokeys timeout 90 ./wgfaiss $F 2>&1 | grep -E "batch"
echo "== noproduct"; WGFAISS_HALF_DEBUG=noproduct timeout 90 ./wgfaiss $F 2>&1 | grep -E "batch"
for t in 4 8 2; do echo "== stage teams $t"; WGFAISS_KNN_HALF_STAGE=1 WGFAISS_KNN_HALF_TEAMS=$t timeout 60 ./wgfaiss $F 2>&1 | grep -E "batch"; done
echo "== stage nokeys"; WGFAISS_KNN_HALF_STAGE=1 WGFAISS_HALF_DEBUG=nokeys timeout 90 ./wgfaiss $F 2>&1 | grep -E "batch"
echo "== test"; timeout 120 ./t_knn_half 2>&1 | grep -E "test result|panicked" -A3 | head -8

echo "== k 100 old / new / staged"
timeout 120 ./wgfaiss_old bench flat --nq 10000 --k 100 --single 0 --iters 1 --precisions f16 2>&1 | grep -E "batch"
timeout 120 ./wgfaiss bench flat --nq 10000 --k 100 --single 0 --iters 1 --precisions f16 2>&1 | grep -E "batch"
WGFAISS_KNN_HALF_STAGE=1 timeout 120 ./wgfaiss bench flat --nq 10000 --k 100 --single 0 --iters 1 --precisions f16 2>&1 | grep -E "batch"
