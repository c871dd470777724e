set -u
for l in 8 4 16; do echo "== lanes $l"; WGFAISS_KNN_STREAM_LANES=$l ./wgfaiss bench flat --nq 4 --k 1,10 --single 100 --iters 3 | tail -4
WGFAISS_KNN_STREAM_LANES=$l WGFAISS_PROFILE=1 ./wgfaiss bench flat --nq 1 --k 10 --single 0 --iters 1 2>&1 | grep -E "knn_stream|topk" | tail -2; done
WGFAISS_KNN_STREAM_LANES=8 ./wgfaiss bench flat --nq 4 --dim 96,768 --k 10 --single 50 --iters 3 | tail -4
