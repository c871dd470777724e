# The reviewed binary: t_flat; single / async / 64-query search with the spin off / on and torch on the same card; serve flat off / on.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
timeout 120 ./t_flat > $O/t_flat.txt 2>&1; echo "t_flat: $(grep -E 'test result|FAILED|panicked' $O/t_flat.txt | head -3)"
F="bench flat --k 10 --precisions exact --nq 64 --single 200 --iters 5"
for sw in 0 2000; do echo "== spin_wait $sw"; WGFAISS_SUBMIT_SPIN_WAIT_US=$sw timeout 60 ./wgfaiss $F 2>&1 | grep -v XDG | tail -3; done
echo "== torch"; timeout 90 python3 peer_flat.py --nb 1000000 --nq 64 --dim 128 --k 10 --iters 5 2>&1 | grep -E "device|batch|single"
serve() { timeout 80 ./wgfaiss bench serve --index flat 2>&1 | grep -v XDG | grep -E "one batch|one search|adaptive" | head -3; }
for sw in 0 2000; do echo "== serve flat spin_wait $sw"; WGFAISS_SUBMIT_SPIN_WAIT_US=$sw serve; done
