# Key kernel registers: query fragments reloaded per step, fewer base fragments in flight, scan/write in chunks.
echo commit $(cat commit.txt) + dev switches; date -u
O=${OUT:-.}
K() { env "$@" WGFAISS_PROFILE=1 timeout 40 ./wgfaiss bench flat --nq $n --k 10 --precisions exact --iters 3 --single 0 2>&1 | grep -A9 "WGFAISS_PROFILE: " | grep -E "half_keys" | tail -2 | awk '{print $1}' | tr '\n' ' '; }
R=WGFAISS_DEV_KEYS_RELOADA=1; G=WGFAISS_DEV_KEYS_GROUP; C=WGFAISS_DEV_KEYS_CHUNK
for n in 64 32; do
for v in "X=1" "$G=2" "$G=1" "$G=8" "$C=8" "$C=16" "$R" "$R $G=2" "$R $G=1" "$R $C=8" "$R $G=2 $C=8" "$R $G=1 $C=8" "$G=2 $C=8"; do
echo "nq $n [$v]: $(K $v)"; done; done
