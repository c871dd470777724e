# GEMM: staged pieces fetched as mat2x4<f16> (width 8) against vec4<u32> + unpack (width 4).
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
for w in 8 4; do WGFAISS_GEMM_COOP_STAGE_WIDTH=$w timeout 200 ./t_gemm > $O/t_gemm_w$w.txt 2>&1; echo "t_gemm w$w: $(grep -E 'test result|FAILED|panicked' $O/t_gemm_w$w.txt | head -3)"; done
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10"
for w in 4 8 4 8; do echo "== gemm f16 width $w"; WGFAISS_GEMM_COOP_STAGE_WIDTH=$w timeout 60 ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$|backtrace|RUST_BACK|MxNxK" | tail -4 | awk 'NF>5{print $1, $2, $(NF-3), $(NF-1)} NF<=5{print}'; done
echo "== torch"
timeout 120 python3 peer_gemm.py --shapes 4096x4096x4096,8192x8192x8192 --iters 10 2>&1 | grep -v float32
