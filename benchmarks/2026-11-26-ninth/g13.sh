echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name --format=csv,noheader
for cfg in "128 32" "256 32" "64 32" "256 16" "512 16" "128 32"; do set -- $cfg; echo "== workgroup_size $1 thread_queue $2"; WGFAISS_TOPK_WORKGROUP_SIZE=$1 WGFAISS_TOPK_THREAD_QUEUE=$2 timeout 60 ./wgfaiss bench topk --k 10 --iters 5 2>&1 | grep -E "stream_read|k=10"; done
