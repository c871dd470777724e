# Final binary: card tests (survivors, flat, coalesce); pass tables and bench flat prev (18428f1) / new alternating; torch; serve flat record_ahead 1/0 alternating, serve ivf.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
timeout 120 ./t_knn_half survivors > $O/t_knn_half.txt 2>&1; echo "t_knn_half survivors: $(grep -E 'test result|FAILED|panicked' $O/t_knn_half.txt | head -3)"
for t in flat coalesce; do timeout 120 ./t_$t > $O/t_$t.txt 2>&1; echo "t_$t: $(grep -E 'test result|FAILED|panicked' $O/t_$t.txt | head -3)"; done
for b in wgfaiss_prev wgfaiss; do echo "== $b pass table nq 64"; WGFAISS_PROFILE=1 timeout 60 ./$b bench flat --k 10 --precisions exact --nq 64 --single 0 --iters 2 2>&1 | grep -v XDG | grep -A8 "passes" | tail -8; done
F="bench flat --k 10 --precisions exact --nq 64 --single 200 --iters 5"
for r in 1 2; do for b in wgfaiss_prev wgfaiss; do echo "== $b"; timeout 60 ./$b $F 2>&1 | grep -v XDG | tail -3; done; done
echo "== torch"; timeout 90 python3 peer_flat.py --nb 1000000 --nq 64 --dim 128 --k 10 --iters 5 2>&1 | grep -E "device|batch|single"
serve() { timeout 80 ./wgfaiss bench serve --index $1 2>&1 | grep -v XDG | grep -E "^one batch|^one search|adaptive|round trip" -A1 | grep -v "^--" | head -8; }
for r in 1 2; do for a in 1 0; do echo "== serve flat record_ahead $a"; WGFAISS_SUBMIT_COALESCE_RECORD_AHEAD=$a serve flat; done; done
echo "== serve ivf"; serve ivf
