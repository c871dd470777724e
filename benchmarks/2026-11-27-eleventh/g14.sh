# f32 mid-size batches: the fused kernel against distance tiles with the bounded top-k.
echo commit $(cat commit.txt) + tiled_max_queries; date -u
B() { env "$@" timeout 40 ./wgfaiss bench flat --nq $n --dim $d --k 10 --precisions f32 --iters 5 --single 0 2>&1 | grep 'batch'; }
d=128; for n in 5 16 64 256 512; do echo "fused $(B X=1)"; echo "tiled $(B WGFAISS_KNN_TILED_MAX_QUERIES=100000)"; done
d=768; for n in 16 64 256; do echo "fused $(B X=1)"; echo "tiled $(B WGFAISS_KNN_TILED_MAX_QUERIES=100000)"; done
