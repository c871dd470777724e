for nq in 16 64 256 1024; do ./wgfaiss bench ivf --nq $nq --nprobe 16,64 --single 0 --niter 10 --scans fused,keys | grep -E "^ *(fused|keys)"; done
