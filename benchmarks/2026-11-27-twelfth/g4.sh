echo commit $(cat commit.txt) + slot coalescer + host profile + key ablations; date -u
O=${OUT:-.}
echo "== tests"; timeout 100 ./t_coalesce > $O/t_coalesce.txt 2>&1; grep -E "test result|FAILED|panicked" $O/t_coalesce.txt | head -4
K() { env "$@" WGFAISS_PROFILE=1 timeout 40 ./wgfaiss bench flat --nq $n --k 10 --precisions exact --iters 3 --single 0 2>&1 | grep -A9 "WGFAISS_PROFILE: " | grep -E "half_keys" | tail -2 | awk '{print $1}' | tr '\n' ' '; }
for n in 64; do
for v in X=1 WGFAISS_DEV_KEYS=nowrite WGFAISS_DEV_KEYS=noscan WGFAISS_DEV_KEYS=nowrite,noscan WGFAISS_DEV_KEYS=noload WGFAISS_DEV_KEYS=noload,nowrite WGFAISS_DEV_KEYS=noload,nowrite,noscan; do
echo "nq $n $v: $(K $v)"; done; done
echo "== host profile (no timestamps)"
for n in 16 64; do echo "-- $n"; WGFAISS_PROFILE=host timeout 40 ./wgfaiss bench flat --nq $n --k 10 --precisions exact --iters 5 --single 0 2>&1 | grep -E "WGFAISS_PROFILE host|d=128 batch" | tail -4; done
S() { env "${@:2}" timeout 100 ./$1 bench serve --index flat --precision exact 2>&1 | grep -E "one batch|adaptive|window |coalescer:" ; }
echo "== serve new, 1"; S wgfaiss X=1
echo "== serve new, 1, keys steps 32"; S wgfaiss WGFAISS_KNN_HALF_KEYS_STEPS=32
echo "== serve old, 1"; S wgfaiss_old X=1
