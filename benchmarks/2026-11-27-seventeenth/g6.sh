# Where a 64-query search's wall time goes with survivors: host line in the one-pass form, per-pass times.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
F="bench flat --k 10 --single 0 --precisions exact --nq 64"
echo "== host"; WGFAISS_PROFILE=host timeout 60 ./wgfaiss $F --iters 9 2>&1 | grep -v XDG | tail -12
echo "== passes"; WGFAISS_PROFILE=1 timeout 60 ./wgfaiss $F --iters 3 2>&1 | grep -v XDG | tail -11
echo "== host survivors 0"; WGFAISS_KNN_HALF_SURVIVORS=0 WGFAISS_PROFILE=host timeout 60 ./wgfaiss $F --iters 9 2>&1 | grep -v XDG | tail -6
