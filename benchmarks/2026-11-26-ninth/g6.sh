echo commit $(cat commit.txt) + topk 8-load steps; date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
echo "== tests"; timeout 150 ./t_topk 2>&1 | grep -E "test result|panicked" -A3 | head -6
echo "== topk old binary (50cb003)"; timeout 120 ./wgfaiss_old bench topk --iters 5 2>&1 | grep -vE "XDG|^$"
for q in 4 8 16 32; do echo "== topk thread_queue $q"; WGFAISS_TOPK_THREAD_QUEUE=$q timeout 120 ./wgfaiss bench topk --iters 5 2>&1 | grep -vE "XDG|^$" | tail -5; done
echo "== topk old binary again"; timeout 120 ./wgfaiss_old bench topk --iters 5 2>&1 | grep -vE "XDG|^$" | tail -5
