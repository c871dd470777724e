echo commit $(cat commit.txt)
s() { echo "== $1"; shift; env "$@" timeout 120 ./wgfaiss bench serve --index flat 2>&1 | grep -vE "XDG|^$" | grep -E "one batch|window|coalescer" | head -3; }
s "window 50" WGFAISS_SUBMIT_COALESCE_WINDOW_US=50
s "max 64" WGFAISS_SUBMIT_COALESCE_MAX_QUERIES=64
s "max 48" WGFAISS_SUBMIT_COALESCE_MAX_QUERIES=48
echo "== ivf max 64"; WGFAISS_SUBMIT_COALESCE_MAX_QUERIES=64 timeout 120 ./wgfaiss bench serve --index ivf --nprobe 64 2>&1 | grep -vE "XDG|^$" | grep -E "one batch|window|coalescer" | head -3
