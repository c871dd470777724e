# The host's CPU idle states: serve flat as shipped, then with a PM QoS request of 0 us held on /dev/cpu_dma_latency (cores kept out of deep C-states), then as shipped again.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
serve() { timeout 80 ./wgfaiss bench serve --index flat 2>&1 | grep -v XDG | grep -E "one batch|one search|adaptive|coalescer" | head -4; }
echo "== serve flat"; serve
python3 -c "
import os, time
fd = os.open('/dev/cpu_dma_latency', os.O_WRONLY)
os.write(fd, (0).to_bytes(4, 'little'))
print('pm qos 0 us held', flush=True)
time.sleep(90)
" & Q=$!
sleep 1
echo "== serve flat, cpu_dma_latency 0"; serve
kill $Q 2>/dev/null; wait $Q 2>/dev/null
echo "== serve flat"; serve
