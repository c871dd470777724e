# Recording ahead off/on, alternating in one call (flat); the lone 64-query search beside.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
serve() { timeout 80 ./wgfaiss bench serve --index $1 2>&1 | grep -v XDG | grep -E "^one search|adaptive" -A1 | grep -v "^--" | head -4; }
for r in 1 2 3 4; do for a in 0 1; do echo "== flat record_ahead $a"; WGFAISS_SUBMIT_COALESCE_RECORD_AHEAD=$a serve flat; done; done
