# Trusted (no run-time checks) cooperative-matrix families: A/B in one call.
echo commit $(cat commit.txt) + WGFAISS_EXP_TRUSTED switch; date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
T=WGFAISS_EXP_TRUSTED=coop,keys,half
echo "== tests trusted"; for t in t_knn_half t_gemm t_flat; do env $T timeout 200 ./$t > $O/$t.txt 2>&1; echo $t; grep -E "test result|FAILED|panicked" $O/$t.txt | head -4; done
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
G() { echo "== gemm $1"; env "$1" timeout 60 ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | tail -4 | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1)} NF<=5{print}'; }
G X=1; G $T; G X=1; G $T
B() { env "$@" timeout 60 ./wgfaiss bench flat --nq $n --k 10 --precisions exact --iters 7 --single 0 2>&1 | grep 'd=128 batch' | tail -1; }
for n in 16 64 256; do for v in X=1 $T X=1 $T; do echo "nq $n $v $(B $v)"; done; done
for v in X=1 $T; do echo "-- profile 64 $v"; env $v WGFAISS_PROFILE=1 timeout 40 ./wgfaiss bench flat --nq 64 --k 10 --precisions exact --iters 3 --single 0 2>&1 | grep -A12 "WGFAISS_PROFILE: " | head -14; done
F() { env "$@" timeout 90 ./wgfaiss bench flat --nq 10000 --k 10 --precisions f16,exact --iters 3 --single 0 2>&1 | grep -E "d=128 batch"; }
for v in X=1 $T X=1 $T; do echo "-- 10000 $v"; F $v; done
python3 peer_gemm.py --shapes 4096x4096x4096,8192x8192x8192 --iters 10 2>&1 | grep -v float32
