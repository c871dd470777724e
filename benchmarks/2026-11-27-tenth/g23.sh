# Tenth session: large k after the wide top-k workgroups, torch in the same call.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
timeout 200 ./wgfaiss bench flat --nq 10000 --k 1000,2048 --single 50 --iters 3 --precisions f32,exact 2>&1 | grep -E "batch|single|rror"
timeout 200 python3 peer_flat.py --nb 1000000 --nq 10000 --dim 128 --k 1000,2048 --iters 2 2>&1 | tail -5
timeout 60 ./wgfaiss bench topk --rows 536 --k 1000,2048 --iters 5 2>&1 | grep -E "stream_read|topk k="
