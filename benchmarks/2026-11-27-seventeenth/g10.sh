# The index turns survivors off after a search that lost candidates for > 1/8 of its queries: card tests; entry sanity.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
for t in t_knn_half t_flat t_coalesce; do timeout 200 ./$t > $O/$t.txt 2>&1; echo "$t: $(grep -E 'test result|FAILED|panicked' $O/$t.txt | head -5)"; done
F="bench flat --k 10 --single 0 --precisions exact"
for nq in 64 1024; do echo "== flat nq $nq: $(timeout 60 ./wgfaiss $F --nq $nq --iters 3 2>&1 | grep -v XDG | tail -1)"; done
echo "== serve flat"; timeout 100 ./wgfaiss bench serve --index flat 2>&1 | grep -v XDG | tail -9
