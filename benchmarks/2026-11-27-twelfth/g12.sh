# IVF small batches: the keys scan against the fused scan (ivf.auto_keys_queries), H100.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name --format=csv,noheader
for n in 32 64 128; do timeout 120 ./wgfaiss bench ivf --nq $n --nprobe 16,64 --single 0 --niter 10 --scans fused,keys 2>&1 | grep -E "^ +(fused|keys)"; done
S() { env "$@" timeout 150 ./wgfaiss bench serve --index ivf --precision exact --nprobe 64 2>&1 | grep -E "one batch|adaptive|window |coalescer:" ; }
echo "== serve ivf, auto_keys_queries 32 (shipped)"; S X=1
echo "== serve ivf, auto_keys_queries 64"; S WGFAISS_IVF_AUTO_KEYS_QUERIES=64
echo "== serve ivf, auto_keys_queries 32 (shipped)"; S X=1
echo "== serve ivf, auto_keys_queries 64"; S WGFAISS_IVF_AUTO_KEYS_QUERIES=64
