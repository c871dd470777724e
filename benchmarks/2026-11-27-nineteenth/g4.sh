# Where a lone 64-query exact search's wall time goes: host profile and pass table.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
F="bench flat --k 10 --precisions exact --nq 64 --single 0 --iters 20"
echo "== plain"; timeout 60 ./wgfaiss $F 2>&1 | grep -v XDG | tail -2
echo "== host profile"; WGFAISS_PROFILE=host timeout 60 ./wgfaiss $F 2>&1 | grep -v XDG | tail -24
echo "== pass table"; WGFAISS_PROFILE=1 timeout 60 ./wgfaiss $F 2>&1 | grep -v XDG | grep -B2 -A16 "passes" | tail -22
