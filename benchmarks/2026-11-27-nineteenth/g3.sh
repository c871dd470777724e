# Hand-off off / on (gatherer woken at once) / on (gatherer woken after the run), alternating.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
serve() { timeout 80 ./wgfaiss bench serve --index $1 2>&1 | grep -v XDG | grep -E "adaptive" -A1 | head -2; }
for r in 1 2 3; do
 echo "== flat hand_off 0"; WGFAISS_SUBMIT_COALESCE_HAND_OFF=0 serve flat
 echo "== flat hand_off 1 early"; WGFAISS_SUBMIT_COALESCE_HAND_OFF=1 serve flat
 echo "== flat hand_off 1 late"; WGFAISS_EXP_LATE=1 WGFAISS_SUBMIT_COALESCE_HAND_OFF=1 serve flat
done
