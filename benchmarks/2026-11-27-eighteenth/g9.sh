# Awake roots, second form: spinners watch an atomic flag instead of taking their slot's lock (dev-09's lock-spinning starved the hand-out); fan-out / spinners 4/0 (as shipped), 4/4, 8/8, alternating twice.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
serve() { timeout 80 ./wgfaiss bench serve --index $1 2>&1 | grep -v XDG | grep -E "one batch|adaptive|coalescer" | head -3; }
for rep in 1 2; do for cfg in "4 0" "4 4" "8 8"; do set -- $cfg
echo "== serve flat fan_out $1 spinners $2"; WGFAISS_SUBMIT_COALESCE_FAN_OUT=$1 WGFAISS_SUBMIT_COALESCE_SPINNERS=$2 serve flat
done; done
