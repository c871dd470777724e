# Is the host's idle-core wake-up what the gathering costs? Host facts; serve flat/ivf with and without 16 SCHED_IDLE spinners keeping the cores awake.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
nproc; grep -m1 "model name" /proc/cpuinfo; grep -c hypervisor /proc/cpuinfo; systemd-detect-virt 2>/dev/null; cat /sys/devices/system/cpu/cpuidle/current_driver 2>/dev/null
for s in /sys/devices/system/cpu/cpu0/cpuidle/state*; do echo "$(cat $s/name) latency $(cat $s/latency) disable $(cat $s/disable)"; done 2>/dev/null
which chrt taskset
spin_on() { P=""; for i in $(seq $1); do $2 bash -c 'while :; do :; done' & P="$P $!"; done; }
spin_off() { kill $P 2>/dev/null; wait 2>/dev/null; }
serve() { timeout 80 ./wgfaiss bench serve --index $1 2>&1 | grep -v XDG | grep -E "^one batch|^one search|round trip|adaptive|coalescer" | head -6; }
for r in 1 2; do
 echo "== flat plain"; serve flat
 echo "== flat 16 idle spinners"; spin_on 16 "chrt -i 0"; serve flat; spin_off
done
echo "== flat 16 nice-19 spinners"; spin_on 16 "nice -n 19"; serve flat; spin_off
echo "== ivf plain"; serve ivf
echo "== ivf 16 idle spinners"; spin_on 16 "chrt -i 0"; serve ivf; spin_off
