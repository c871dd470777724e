# Tile probe (experiment) at mid-size batches: 64 and 192 queries x 1M x 128, ranges per query block.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
for nq in 64 192; do echo "== nq $nq"; TILE_PROBE_NQ=$nq timeout 300 ./wgfaiss bench gemm --tile-probe --iters 5 2>&1 | grep -vE "XDG|^$"; done
