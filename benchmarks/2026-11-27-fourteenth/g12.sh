# Tiled f16 key kernel: the key writes bisected (0 shipped rotation, 1 one row per turn: 128-byte
# writes, 2 no writes), 64 queries, profile.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
for w in 0 1 2 0 1; do echo "== write mode $w"; WGFAISS_EXP_WRITE=$w WGFAISS_PROFILE=1 timeout 100 ./wgfaiss bench flat --nq 64 --k 10 --precisions exact --iters 1 --single 0 2>&1 | grep -E "half_keys|batch" | tail -3; done
for g in 132 264 1024; do echo "== target_groups $g"; WGFAISS_KNN_TARGET_GROUPS=$g WGFAISS_PROFILE=1 timeout 100 ./wgfaiss bench flat --nq 64 --k 10 --precisions exact --iters 1 --single 0 2>&1 | grep -E "half_keys|batch" | tail -3; done
