set -u
./wgfaiss bench serve --index flat
./wgfaiss bench serve --index ivf --nprobe 64
./wgfaiss bench flat --nq 16 --k 10 --single 100 --iters 3 | tail -2
./wgfaiss bench ivf --nprobe 64 --single 50 | tail -3
