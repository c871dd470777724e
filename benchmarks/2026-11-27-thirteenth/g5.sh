# Trusted coop + 16-byte fetches (final form): tests; fused f16 kernel with a prefetched step.
echo commit $(cat commit.txt) + trusted coop + ld16 + prefetch experiment; date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
for t in t_gemm t_knn_half t_flat; do timeout 200 ./$t > $O/$t.txt 2>&1; echo "$t: $(grep -E 'test result|FAILED|panicked' $O/$t.txt | head -3)"; done
for t in t_knn_half t_flat; do WGFAISS_EXP_PREFETCH=1 timeout 200 ./$t > $O/$t-pf.txt 2>&1; echo "$t prefetch: $(grep -E 'test result|FAILED|panicked' $O/$t-pf.txt | head -3)"; done
F() { env "$@" timeout 90 ./wgfaiss bench flat --nq 10000 --k 10 --precisions f16 --iters 3 --single 0 2>&1 | grep -E "d=128 batch"; }
for v in X=1 WGFAISS_EXP_PREFETCH=1 X=1 WGFAISS_EXP_PREFETCH=1 "WGFAISS_EXP_PREFETCH=1 WGFAISS_KNN_HALF_TEAMS=4"; do echo "-- 10000 f16 $v $(F $v)"; done
K() { env "$@" timeout 90 ./wgfaiss bench flat --nq 10000 --k 100 --precisions f16 --iters 3 --single 0 2>&1 | grep -E "d=128 batch"; }
for v in X=1 WGFAISS_EXP_PREFETCH=1; do echo "-- 10000 f16 k100 $v $(K $v)"; done
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
run() { echo "== $1"; shift; env "$@" timeout 60 ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | tail -4 | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1)} NF<=5{print}'; }
run "final (trusted, 16-byte fetches)" X=1
run "checked" WGFAISS_CHECKED_KERNELS=1
run "final again" X=1
python3 peer_gemm.py --shapes 4096x4096x4096,8192x8192x8192 --iters 10 2>&1 | grep -v float32
