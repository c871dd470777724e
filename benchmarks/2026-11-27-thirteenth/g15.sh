# Issue 8 with the final binary: 64 threads x single queries, flat (twice) and IVF nprobe 64.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
S() { timeout 150 ./wgfaiss bench serve "$@" 2>&1 | grep -E "one batch|adaptive|window |coalescer:|off" ; }
echo "== flat"; S --index flat --precision exact
echo "== ivf nprobe 64"; S --index ivf --precision exact --nprobe 64
echo "== flat again"; S --index flat --precision exact
