# Re-rank by 32 invocations a pair: card test, pass tables (64 queries, 1 query), wall times old/new alternating.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
timeout 200 ./t_knn_half > $O/t_knn_half.txt 2>&1; echo "t_knn_half: $(grep -E 'test result|FAILED|panicked' $O/t_knn_half.txt | head -3)"
for nq in 64 1; do for b in wgfaiss_old wgfaiss; do echo "== $b pass table nq $nq"; WGFAISS_PROFILE=1 timeout 60 ./$b bench flat --k 10 --precisions exact --nq $nq --single 0 --iters 2 2>&1 | grep -v XDG | grep -A9 "passes" | tail -9; done; done
for r in 1 2; do for b in wgfaiss_old wgfaiss; do echo "== $b"; timeout 60 ./$b bench flat --k 10 --precisions exact --nq 64 --single 200 --iters 5 2>&1 | grep -v XDG | tail -3; done; done
