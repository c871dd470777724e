# Host times of a 64-query search: uploads inside "recorded and submitted", the whole search call.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
F="bench flat --k 10 --single 0 --precisions exact --nq 64"
echo "== host"; WGFAISS_PROFILE=host timeout 60 ./wgfaiss $F --iters 9 2>&1 | grep -v XDG | tail -20
