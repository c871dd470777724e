echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name --format=csv,noheader
O=${OUT:-.}
echo "== knn_half tests"; timeout 120 ./t_knn_half 2>&1 | grep -E "test |result" | tail -8
B() { env "$@" timeout 60 ./wgfaiss bench flat --nq $n --k 10 --precisions f16-verified --iters 7 --single 0 2>&1 | grep 'd=128 batch' | tail -1; }
for n in 8 16 32 64 128 256 512; do
  echo "nq $n fused  $(B X=1)"
  echo "nq $n tiles  $(B WGFAISS_KNN_HALF_TILE_QUERIES=100000)"
done
n=64; for st in 2 4 16 32; do echo "nq 64 steps $st $(B WGFAISS_KNN_HALF_TILE_QUERIES=100000 WGFAISS_KNN_HALF_KEYS_STEPS=$st)"; done
for tm in 1 2; do echo "nq 64 teams $tm $(B WGFAISS_KNN_HALF_TILE_QUERIES=100000 WGFAISS_KNN_HALF_KEYS_TEAMS=$tm)"; done
n=256; for tm in 1 2 8; do echo "nq 256 teams $tm $(B WGFAISS_KNN_HALF_TILE_QUERIES=100000 WGFAISS_KNN_HALF_KEYS_TEAMS=$tm)"; done
for n in 16 64 256; do echo "== profile $n"; WGFAISS_PROFILE=1 WGFAISS_KNN_HALF_TILE_QUERIES=100000 timeout 60 ./wgfaiss bench flat --nq $n --k 10 --precisions f16-verified --iters 3 --single 0 2>&1 | grep -A8 "WGFAISS_PROFILE: " | tail -9; done
n=64; echo "== k=100 nq 64: fused $(env X=1 timeout 60 ./wgfaiss bench flat --nq 64 --k 100 --precisions f16-verified --iters 5 --single 0 2>&1 | grep 'd=128 batch' | tail -1)"
echo "== k=100 nq 64: tiles $(env WGFAISS_KNN_HALF_TILE_QUERIES=100000 timeout 60 ./wgfaiss bench flat --nq 64 --k 100 --precisions f16-verified --iters 5 --single 0 2>&1 | grep 'd=128 batch' | tail -1)"
