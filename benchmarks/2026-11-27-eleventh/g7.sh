echo commit $(cat commit.txt) + bounded topk + unrolled scan/write; date -u
echo "== tests"; timeout 100 ./t_knn_half 2>&1 | grep -E "result"
B() { env "$@" timeout 60 ./wgfaiss bench flat --nq $n --k $k --precisions $p --iters 7 --single 0 2>&1 | grep 'd=128 batch' | tail -1; }
T="WGFAISS_KNN_HALF_TILE_QUERIES=100000"
k=10; p=f16-verified
for n in 8 16 32 64 128 192 256; do echo "nq $n tiles  $(B $T)"; done
for n in 192 ; do echo "nq $n fused  $(B X=1)"; done
k=20; for n in 64 256 512; do echo "k20 nq $n fused $(B X=1)"; echo "k20 nq $n tiles $(B $T)"; done
k=100; for n in 512; do echo "k100 nq $n fused $(B X=1)"; echo "k100 nq $n tiles $(B $T)"; done
for n in 16 64 256; do echo "== profile $n"; WGFAISS_PROFILE=1 $T timeout 60 ./wgfaiss bench flat --nq $n --k 10 --precisions f16-verified --iters 3 --single 0 2>&1 | grep -A9 "WGFAISS_PROFILE: " | grep -E "half_keys|topk" | tail -4; done
