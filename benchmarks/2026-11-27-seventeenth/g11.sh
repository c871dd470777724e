# Where a coalesced cycle goes: the coalescer's new timers (run, hand-out, until the next gathers, gathering).
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
for i in 1 2; do echo "== serve flat"; timeout 100 ./wgfaiss bench serve --index flat 2>&1 | grep -v XDG | tail -9; done
