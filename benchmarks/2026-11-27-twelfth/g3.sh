echo commit $(cat commit.txt) + slot coalescer, state before wake; date -u
O=${OUT:-.}
echo "== tests"; timeout 100 ./t_coalesce > $O/t_coalesce.txt 2>&1; grep -E "test result|FAILED|panicked" $O/t_coalesce.txt | head -4
S() { env "${@:2}" timeout 100 ./$1 bench serve --index flat --precision exact 2>&1 | grep -E "one batch|adaptive|window |coalescer:" ; }
F2=WGFAISS_SUBMIT_COALESCE_IN_FLIGHT=2
for r in 1 2; do
echo "== serve new, 1"; S wgfaiss X=1
echo "== serve new, 2"; S wgfaiss $F2
done
echo "== host profile 64"; WGFAISS_PROFILE=1 timeout 40 ./wgfaiss bench flat --nq 64 --k 10 --precisions exact --iters 3 --single 0 2>&1 | grep -E "WGFAISS_PROFILE host" | tail -3
