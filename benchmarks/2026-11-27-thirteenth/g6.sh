# Other checked families compiled trusted (top-k, IVF, f16 helpers, key tiles): A/B in one call.
echo commit $(cat commit.txt) + WGFAISS_EXP_TRUST switch; date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
T=WGFAISS_EXP_TRUST=topk,ivf,half,kmeans
for t in t_topk t_ivf; do env $T timeout 200 ./$t > $O/$t.txt 2>&1; echo "$t trusted: $(grep -E 'test result|FAILED|panicked' $O/$t.txt | head -3)"; done
for v in X=1 $T X=1 $T; do echo "-- topk $v"; env $v timeout 60 ./wgfaiss bench topk --k 10,1024 --iters 5 2>&1 | grep -E "stream_read|topk k=" | tail -5; done
B() { env "$@" timeout 60 ./wgfaiss bench flat --nq $n --k 10 --precisions exact --iters 7 --single 0 2>&1 | grep 'd=128 batch' | tail -1; }
for n in 64 256; do for v in X=1 $T X=1 $T; do echo "nq $n $v $(B $v)"; done; done
for v in X=1 $T; do echo "-- profile 64 $v"; env $v WGFAISS_PROFILE=1 timeout 40 ./wgfaiss bench flat --nq 64 --k 10 --precisions exact --iters 3 --single 0 2>&1 | grep -A9 "F16Verified path" | head -10; done
for v in X=1 $T; do echo "-- ivf $v"; env $v timeout 120 ./wgfaiss bench ivf --nprobe 16,64 --single 0 2>&1 | grep -E "^  (auto|fused|keys) " | tail -4; done
S() { env "$@" timeout 100 ./wgfaiss bench serve --index flat --precision exact 2>&1 | grep -E "one batch|adaptive|coalescer:" ; }
for v in X=1 $T; do echo "== serve flat $v"; S $v; done
