echo commit $(cat commit.txt) + literal stride + slot coalescer; date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
echo "== tests"; for t in t_knn_half t_flat t_coalesce; do timeout 150 ./$t > $O/$t.txt 2>&1; grep -E "test result|FAILED|panicked" $O/$t.txt | head -4; done
B() { env "$@" timeout 60 ./wgfaiss bench flat --nq $n --k 10 --precisions exact --iters 7 --single 0 2>&1 | grep 'd=128 batch' | tail -1; }
R=WGFAISS_DEV_RUNTIME_STRIDE=1
for n in 16 32 64 256; do echo "nq $n runtime $(B $R)"; echo "nq $n literal $(B X=1)"; done
for n in 64; do for v in $R X=1; do echo "-- profile $n $v"; env $v WGFAISS_PROFILE=1 timeout 40 ./wgfaiss bench flat --nq $n --k 10 --precisions exact --iters 3 --single 0 2>&1 | grep -A9 "WGFAISS_PROFILE: " | grep -E "half_keys|topk|rerank"; done; done
F() { env "$@" timeout 90 ./wgfaiss bench flat --nq 10000 --k 10 --precisions f16,exact --iters 3 --single 0 2>&1 | grep -E "d=128 batch"; }
echo "-- 10000 runtime"; F $R; echo "-- 10000 literal"; F X=1
S() { timeout 100 ./$1 bench serve --index flat --precision exact 2>&1 | grep -E "one batch|adaptive|window |coalescer:" ; }
echo "== serve old"; S wgfaiss_old
echo "== serve new"; S wgfaiss
echo "== serve old again"; S wgfaiss_old
