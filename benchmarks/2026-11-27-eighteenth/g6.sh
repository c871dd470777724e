# Does the device's idle gap cost the next search? A 64-query search after 0.3 ms asleep, spinning, and spinning with a one-workgroup dispatch submitted every 50 / 100 us (keep-alive experiment), flat and ivf.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
for i in 1 2; do for ix in flat ivf; do echo "== serve $ix"; timeout 150 ./wgfaiss bench serve --index $ix --nq 2000 2>&1 | grep -v XDG | grep -E "round trip|one search|after|adaptive" | head -7; done; done
