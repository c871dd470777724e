# The kk loop of a slice unrolled (EXP_UNROLL=1), unrolled with the next step's fragment loads before this step's products (=2), all of a slice's loads first (=2 + EXP_ALL), against the loop; swapped form.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
V() { echo "== $*"; env "$@" timeout 60 ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1), $NF} NF<=5{print}'; }
for i in 1 2; do
V X=loop
V EXP_UNROLL=1
V EXP_UNROLL=2
V EXP_UNROLL=2 EXP_ALL=1
done
