# The committed binary: tests, single / async / 64-query wall with the fence spin off / on, serve flat and ivf off / on (two alternations for flat). Run on an H200 (dev-07-h200) for the entry set by architecture.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
for t in t_flat t_coalesce; do timeout 200 ./$t > $O/$t.txt 2>&1; echo "$t: $(grep -E 'test result|FAILED|panicked' $O/$t.txt | head -5)"; done
F="bench flat --k 10 --precisions exact --nq 64 --single 300 --iters 5"
for sw in 0 2000 0 2000; do echo "== spin_wait $sw"; WGFAISS_SUBMIT_SPIN_WAIT_US=$sw timeout 60 ./wgfaiss $F 2>&1 | grep -v XDG | tail -3; done
serve() { timeout 150 ./wgfaiss bench serve --index $1 2>&1 | grep -v XDG | grep -E "one batch|round trip|one search|adaptive|coalescer|one by one" | head -7; }
for sw in 0 2000 0 2000; do echo "== serve flat spin_wait $sw"; WGFAISS_SUBMIT_SPIN_WAIT_US=$sw serve flat; done
for sw in 0 2000; do echo "== serve ivf spin_wait $sw"; WGFAISS_SUBMIT_SPIN_WAIT_US=$sw serve ivf; done
