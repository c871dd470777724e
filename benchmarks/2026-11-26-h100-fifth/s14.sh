./wgfaiss bench ivf --nprobe 16,64 --single 50 | tail -4
./wgfaiss bench ivf --nq 64 --nprobe 64 --single 0 --niter 10 | tail -3
