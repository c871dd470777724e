# Coalescer wake-up fan-out 4 (shipped) / 8 / 16 / 64, alternating, flat serve.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
for f in 4 8 16 64 4 8 16 64; do echo "== serve flat fan-out $f"; WGFAISS_SUBMIT_COALESCE_FAN_OUT=$f timeout 100 ./wgfaiss bench serve --index flat 2>&1 | grep -v XDG | tail -6 | head -4; done
