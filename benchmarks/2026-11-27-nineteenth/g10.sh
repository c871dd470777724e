# IVF records ahead: card coalesce tests; serve ivf record_ahead 0/1 alternating.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
timeout 60 ./t_coalesce > $O/t_coalesce.txt 2>&1; echo "t_coalesce: $(grep -E 'test result|FAILED|panicked' $O/t_coalesce.txt | head -3)"
serve() { timeout 80 ./wgfaiss bench serve --index $1 2>&1 | grep -v XDG | grep -E "^one batch|adaptive" -A1 | grep -v "^--" | head -4; }
for r in 1 2; do for a in 0 1; do echo "== ivf record_ahead $a"; WGFAISS_SUBMIT_COALESCE_RECORD_AHEAD=$a serve ivf; done; done
