echo commit $(cat commit.txt) + bounded topk; date -u
echo "== tests"; timeout 100 ./t_knn_half 2>&1 | grep -E "result"; timeout 100 ./t_topk 2>&1 | grep -E "result"
B() { env "$@" timeout 60 ./wgfaiss bench flat --nq $n --k $k --precisions $p --iters 7 --single 0 2>&1 | grep 'd=128 batch' | tail -1; }
k=10; p=f16-verified
for n in 8 16 32 64 128 256 512; do
  echo "nq $n fused  $(B X=1)"
  echo "nq $n tiles  $(B WGFAISS_KNN_HALF_TILE_QUERIES=100000 WGFAISS_KNN_HALF_KEYS_TEAMS=1)"
done
n=64; echo "nq 64 tiles teams2 $(B WGFAISS_KNN_HALF_TILE_QUERIES=100000 WGFAISS_KNN_HALF_KEYS_TEAMS=2)"
n=256; echo "nq 256 tiles teams2 $(B WGFAISS_KNN_HALF_TILE_QUERIES=100000 WGFAISS_KNN_HALF_KEYS_TEAMS=2)"
k=100; for n in 64 256; do echo "k100 nq $n fused $(B X=1)"; echo "k100 nq $n tiles $(B WGFAISS_KNN_HALF_TILE_QUERIES=100000 WGFAISS_KNN_HALF_KEYS_TEAMS=1)"; done
k=10; p=f32; for n in 16 64 256; do echo "f32 nq $n $(B X=1)"; done
k=20; p=f32; for n in 16 64; do echo "f32 k20 (tiled gemm) nq $n $(B X=1)"; done
for n in 16 64 256; do echo "== profile $n"; WGFAISS_PROFILE=1 WGFAISS_KNN_HALF_TILE_QUERIES=100000 WGFAISS_KNN_HALF_KEYS_TEAMS=1 timeout 60 ./wgfaiss bench flat --nq $n --k 10 --precisions f16-verified --iters 3 --single 0 2>&1 | grep -A9 "WGFAISS_PROFILE: " | tail -10; done
