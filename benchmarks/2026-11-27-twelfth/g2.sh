echo commit $(cat commit.txt) + slot coalescer with fan-out wake, split in-flight batches, key ablations; date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
echo "== tests"; timeout 100 ./t_coalesce > $O/t_coalesce.txt 2>&1; grep -E "test result|FAILED|panicked" $O/t_coalesce.txt | head -4
S() { env "${@:2}" timeout 100 ./$1 bench serve --index flat --precision exact 2>&1 | grep -E "one batch|adaptive|window |coalescer:" ; }
F2=WGFAISS_SUBMIT_COALESCE_IN_FLIGHT=2
echo "== serve old, 1"; S wgfaiss_old X=1
echo "== serve new, 1"; S wgfaiss X=1
echo "== serve new, 2"; S wgfaiss $F2
echo "== serve old, 2"; S wgfaiss_old $F2
echo "== serve new, 1"; S wgfaiss X=1
echo "== serve new, 2"; S wgfaiss $F2
echo "== key ablations (profile, half_keys only)"
K() { env "$@" WGFAISS_PROFILE=1 timeout 40 ./wgfaiss bench flat --nq $n --k 10 --precisions exact --iters 3 --single 0 2>&1 | grep -A9 "WGFAISS_PROFILE: " | grep -E "half_keys" | tail -2 | awk '{print $1}' | tr '\n' ' '; }
for n in 32 64; do
for v in X=1 WGFAISS_DEV_KEYS=nowrite WGFAISS_DEV_KEYS=noscan WGFAISS_DEV_KEYS=nowrite,noscan WGFAISS_DEV_KEYS=noload WGFAISS_DEV_KEYS=noload,nowrite,noscan WGFAISS_KNN_HALF_KEYS_STEPS=4 WGFAISS_KNN_HALF_KEYS_STEPS=16 WGFAISS_KNN_HALF_KEYS_STEPS=32 WGFAISS_KNN_HALF_KEYS_TEAMS=2; do
echo "nq $n $v: $(K $v)"; done; done
