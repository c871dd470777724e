echo commit $(cat commit.txt); date -u
S="bench flat --nq 1 --k 10 --single 300 --iters 3 --precisions exact,f16,f16-verified"
timeout 60 ./wgfaiss $S 2>&1 | grep -E "single|proof"
echo "== profile f16-verified single"; WGFAISS_PROFILE=1 timeout 60 ./wgfaiss bench flat --nq 1 --k 10 --single 3 --iters 1 --precisions f16-verified 2>&1 | grep -E "ms  " | tail -4
timeout 120 ./wgfaiss bench flat --nq 10000 --k 10 --single 0 --iters 3 --precisions f16-verified 2>&1 | grep -E "batch|proof"
for b in wgfaiss_old wgfaiss; do echo "== $b: ivf"; timeout 200 ./$b bench ivf --nprobe 16,64 --single 20 2>&1 | grep -vE "XDG|^$" | tail -8; done
