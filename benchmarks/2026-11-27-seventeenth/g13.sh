# The gatherer waiting busy (submit.coalesce_spin) against asleep, alternating; flat and IVF.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
for sp in 0 1 0 1 0 1; do echo "== serve flat spin $sp"; WGFAISS_SUBMIT_COALESCE_SPIN=$sp timeout 100 ./wgfaiss bench serve --index flat 2>&1 | grep -v XDG | tail -6 | head -2; done
for sp in 0 1; do echo "== serve ivf spin $sp"; WGFAISS_SUBMIT_COALESCE_SPIN=$sp timeout 150 ./wgfaiss bench serve --index ivf 2>&1 | grep -v XDG | tail -6 | head -2; done
