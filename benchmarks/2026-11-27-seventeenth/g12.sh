# One 64-query search right after another, after 0.3 ms asleep, after 0.3 ms spinning; the coalescer's timers.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
for i in 1 2; do echo "== serve flat"; timeout 100 ./wgfaiss bench serve --index flat 2>&1 | grep -v XDG | tail -11; done
