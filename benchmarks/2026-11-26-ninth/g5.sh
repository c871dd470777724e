echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
echo "== tests"; timeout 150 ./t_topk 2>&1 | grep -E "test result|panicked" -A3 | head -6
timeout 150 ./t_gemm 2>&1 | grep -E "test result|panicked" -A3 | head -6
echo "== topk old binary (50cb003)"; timeout 120 ./wgfaiss_old bench topk --iters 5 2>&1 | grep -vE "XDG|^$" | tail -4
for q in 4 8 16 32; do echo "== topk thread_queue $q"; WGFAISS_TOPK_THREAD_QUEUE=$q timeout 120 ./wgfaiss bench topk --iters 5 2>&1 | grep -vE "XDG|^$" | tail -3; done
python3 peer_topk.py 2>&1 | tail -4
echo "== gemm f16 shipped config: old binary then new"
S="--f16 --sustained --shapes 4096x4096x4096,8192x8192x8192,1024x1024x1024 --trans nn,nt --iters 10"
timeout 60 ./wgfaiss_old bench gemm $S 2>&1 | grep -vE "XDG|^$"
timeout 60 ./wgfaiss bench gemm $S 2>&1 | grep -vE "XDG|^$"
python3 peer_gemm.py --shapes 4096x4096x4096,8192x8192x8192,1024x1024x1024 --iters 10 2>&1 | grep -v float32
