set -u
./wgfaiss bench flat --nq 4 --k 10 --single 50 --iters 3 | tail -2
for i in 1 2; do
./wgfaiss bench ivf --nprobe 1,4,16,64 --single 50 --niter 10 | tail -5
WGFAISS_KNN_STREAM=off ./wgfaiss bench ivf --nprobe 1,4,16,64 --single 50 --niter 10 | tail -5
done
