echo commit $(cat commit.txt) + first_dispatches + key kernel occupancy padding; date -u
O=${OUT:-.}
echo "== tests"; timeout 100 ./t_gpu > $O/t_gpu.txt 2>&1; grep -E "test result|FAILED|panicked" $O/t_gpu.txt | head -4
K() { env "$@" WGFAISS_PROFILE=1 timeout 40 ./wgfaiss bench flat --nq $n --k 10 --precisions exact --iters 3 --single 0 2>&1 | grep -A9 "WGFAISS_PROFILE: " | grep -E "half_keys" | tail -2 | awk '{print $1}' | tr '\n' ' '; }
n=64; for v in X=1 WGFAISS_DEV_KEYS=pad2048 WGFAISS_DEV_KEYS=pad4096 WGFAISS_DEV_KEYS=pad8192 WGFAISS_DEV_KEYS=pad10000; do echo "keys nq $n $v: $(K $v)"; done
B() { env "$@" timeout 60 ./wgfaiss bench flat --nq $n --k 10 --precisions exact --iters 9 --single 0 2>&1 | grep 'd=128 batch' | tail -1; }
for n in 16 64; do for f in 0 1 2 3 4; do echo "nq $n first $f $(B WGFAISS_SUBMIT_FIRST_DISPATCHES=$f)"; done; done
for f in 0 2 3; do echo "-- host first $f"; WGFAISS_SUBMIT_FIRST_DISPATCHES=$f WGFAISS_PROFILE=host timeout 40 ./wgfaiss bench flat --nq 64 --k 10 --precisions exact --iters 5 --single 0 2>&1 | grep -E "WGFAISS_PROFILE host" | tail -3; done
S() { env "$@" timeout 100 ./wgfaiss bench serve --index flat --precision exact 2>&1 | grep -E "adaptive|window |coalescer:" ; }
for f in 0 2 0 2; do echo "== serve first $f"; S WGFAISS_SUBMIT_FIRST_DISPATCHES=$f; done
