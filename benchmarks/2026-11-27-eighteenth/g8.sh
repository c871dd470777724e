# Awake roots of the wake-up tree: submit.coalesce_spinners callers per batch wait spinning (up to 3 ms); fan-out / spinners 4/0 (as shipped), 4/4, 8/8, 16/16, alternating twice; ivf for 4/0 and 8/8.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
serve() { timeout 150 ./wgfaiss bench serve --index $1 2>&1 | grep -v XDG | grep -E "one batch|adaptive|coalescer" | head -3; }
for rep in 1 2; do for cfg in "4 0" "4 4" "8 8" "16 16"; do set -- $cfg
echo "== serve flat fan_out $1 spinners $2"; WGFAISS_SUBMIT_COALESCE_FAN_OUT=$1 WGFAISS_SUBMIT_COALESCE_SPINNERS=$2 serve flat
done; done
for cfg in "4 0" "8 8"; do set -- $cfg; echo "== serve ivf fan_out $1 spinners $2"; WGFAISS_SUBMIT_COALESCE_FAN_OUT=$1 WGFAISS_SUBMIT_COALESCE_SPINNERS=$2 serve ivf; done
