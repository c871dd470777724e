# f16 products with the K steps in two accumulator chains (even / odd steps, added at the end).
echo commit $(cat commit.txt) + split switch; date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
T=WGFAISS_EXP_SPLIT=1
for t in t_knn_half t_flat; do env $T timeout 200 ./$t > $O/$t.txt 2>&1; echo "$t split: $(grep -E 'test result|FAILED|panicked' $O/$t.txt | head -3)"; done
B() { env "$@" timeout 60 ./wgfaiss bench flat --nq $n --k 10 --precisions exact --iters 7 --single 0 2>&1 | grep 'd=128 batch' | tail -1; }
for n in 16 64 192; do for v in X=1 $T X=1 $T; do echo "nq $n $v $(B $v)"; done; done
for v in X=1 $T; do echo "-- profile 64 $v"; env $v WGFAISS_PROFILE=1 timeout 40 ./wgfaiss bench flat --nq 64 --k 10 --precisions exact --iters 3 --single 0 2>&1 | grep -A3 "F16Verified path" | grep half_keys; done
F() { env "$@" timeout 90 ./wgfaiss bench flat --nq 10000 --k 10 --precisions f16 --iters 3 --single 0 2>&1 | grep -E "d=128 batch"; }
for v in X=1 $T X=1 $T; do echo "-- 10000 f16 $v $(F $v)"; done
