# Spinning instead of sleeping: the fence wait (submit.spin_wait_us) and the coalesced callers (submit.coalesce_spin_us), alternating; then the keep pass's workgroups at 64 queries.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
serve() { timeout 100 ./wgfaiss bench serve --index flat 2>&1 | grep -v XDG | grep -E "round trip|one search|asleep|adaptive|coalescer" | head -6; }
for rep in 1 2; do
for cfg in "0 0" "2000 0" "0 2000" "2000 2000"; do set -- $cfg
echo "== serve flat spin_wait $1 coalesce_spin $2"; WGFAISS_SUBMIT_SPIN_WAIT_US=$1 WGFAISS_SUBMIT_COALESCE_SPIN_US=$2 serve
done; done
F="bench flat --k 10 --precisions exact"
for sw in 0 2000; do echo "== one query spin_wait $sw: $(WGFAISS_SUBMIT_SPIN_WAIT_US=$sw timeout 60 ./wgfaiss $F --nq 64 --single 200 --iters 5 2>&1 | grep -v XDG | tail -2 | tr '\n' ' ')"; done
for tg in 256 512 1024 2048; do echo "== 64 queries target_groups $tg: $(WGFAISS_KNN_TARGET_GROUPS=$tg timeout 60 ./wgfaiss $F --single 0 --nq 64 --iters 5 2>&1 | grep -v XDG | tail -1)"; done
