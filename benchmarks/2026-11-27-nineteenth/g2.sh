# Hand-off (the completing arrival searches the batch) off/on, alternating in one call.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
serve() { timeout 80 ./wgfaiss bench serve --index $1 2>&1 | grep -v XDG | grep -E "^one batch|^one search|adaptive" -A1 | grep -v "^--" | head -8; }
for r in 1 2 3 4; do for h in 0 1; do echo "== flat hand_off $h"; WGFAISS_SUBMIT_COALESCE_HAND_OFF=$h serve flat; done; done
for r in 1 2; do for h in 0 1; do echo "== ivf hand_off $h"; WGFAISS_SUBMIT_COALESCE_HAND_OFF=$h serve ivf; done; done
