# The final binary (source as 18428f1): bench flat and torch in one call; serve flat x3 and ivf.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
F="bench flat --k 10 --precisions exact --nq 64 --single 200 --iters 5"
for r in 1 2; do echo "== wgfaiss"; timeout 60 ./wgfaiss $F 2>&1 | grep -v XDG | tail -3; done
echo "== torch"; timeout 90 python3 peer_flat.py --nb 1000000 --nq 64 --dim 128 --k 10 --iters 5 2>&1 | grep -E "device|batch|single"
serve() { timeout 80 ./wgfaiss bench serve --index $1 2>&1 | grep -v XDG | grep -E "^one batch|^one search|adaptive|window  |one by one|round trip" -A1 | grep -v "^--" | head -12; }
for r in 1 2 3; do echo "== serve flat"; serve flat; done
echo "== serve ivf"; serve ivf
