echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
S="bench flat --nq 1 --k 10 --single 200 --iters 3 --precisions exact,f16"
echo "== old one query"; timeout 60 ./wgfaiss_old $S 2>&1 | grep -E "single|batch"
echo "== new one query (bounded merge)"; timeout 60 ./wgfaiss $S 2>&1 | grep -E "single|batch"
echo "== passes"; WGFAISS_TOPK_LIST_MERGE_MAX_K=0 timeout 60 ./wgfaiss $S 2>&1 | grep -E "single|batch"
echo "== profile"; WGFAISS_PROFILE=1 timeout 60 ./wgfaiss bench flat --nq 1 --k 10 --single 3 --iters 1 --precisions exact,f16 2>&1 | grep -E "ms  " | tail -6
echo "== profile batch"; WGFAISS_PROFILE=1 timeout 60 ./wgfaiss bench flat --nq 10000 --k 10 --single 0 --iters 1 --precisions exact,f16 2>&1 | grep -E "ms  " | tail -8
WGFAISS_TOPK_LIST_MERGE_MAX_K=0 WGFAISS_PROFILE=1 timeout 60 ./wgfaiss bench flat --nq 10000 --k 10 --single 0 --iters 1 --precisions exact,f16 2>&1 | grep -E "ms  " | tail -8
echo "== tests"; timeout 100 ./t_topk 2>&1 | grep -E "test result|panicked" -A3 | head -6
