# Confirmation: staged elements of 2 halves against 4 with the swapped form, alternating.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
V() { echo "== $*"; env "$@" timeout 60 ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1)} NF<=5{print}'; }
for i in 1 2 3; do
V WGFAISS_GEMM_COOP_STAGE_WIDTH=4
V WGFAISS_GEMM_COOP_STAGE_WIDTH=2
done
