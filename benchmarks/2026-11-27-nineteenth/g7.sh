# Sealed ahead: card tests, host profile split of a lone 64-query search, serve flat record_ahead off/on alternating.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
for t in coalesce flat; do timeout 150 ./t_$t > $O/t_$t.txt 2>&1; echo "t_$t: $(grep -E 'test result|FAILED|panicked' $O/t_$t.txt | head -3)"; done
WGFAISS_PROFILE=host timeout 60 ./wgfaiss bench flat --k 10 --precisions exact --nq 64 --single 0 --iters 10 2>&1 | grep "recorded and" | tail -4
serve() { timeout 80 ./wgfaiss bench serve --index $1 2>&1 | grep -v XDG | grep -E "adaptive" -A1 | head -2; }
for r in 1 2 3 4; do for a in 0 1; do echo "== flat record_ahead $a"; WGFAISS_SUBMIT_COALESCE_RECORD_AHEAD=$a serve flat; done; done
