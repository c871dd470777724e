# Tiled f16 key kernel: the barrier after each round's key writes (0 subgroup barrier, 3 none,
# 5 workgroup barrier), 64 queries, profile.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
for w in 0 3 5 0 3; do echo "== mode $w"; WGFAISS_EXP_WRITE=$w WGFAISS_PROFILE=1 timeout 100 ./wgfaiss bench flat --nq 64 --k 10 --precisions exact --iters 1 --single 0 2>&1 | grep -E "half_keys|batch" | tail -2; done
