echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 100 ./t_topk 2>&1 | grep -E "test result|panicked" -A3 | head -4
echo "== old binary (50cb003)"; timeout 60 ./wgfaiss_old bench topk --iters 5 2>&1 | grep -E "stream_read|topk"
for q in 32 16 8 4; do echo "== thread_queue $q"; WGFAISS_TOPK_THREAD_QUEUE=$q timeout 60 ./wgfaiss bench topk --iters 5 2>&1 | grep -E "stream_read|topk"; done
