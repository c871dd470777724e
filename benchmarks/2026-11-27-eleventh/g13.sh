# Inner-product large k: maxima bound (new) against 0e54002 (old, unbounded IP) in one call.
echo commit $(cat commit.txt) against wgfaiss_old = 0e54002; date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
echo "== tests"; for t in t_knn t_gemm; do timeout 100 ./$t > $O/$t.txt 2>&1; grep -E "test result|FAILED|panicked" $O/$t.txt | head -4; done
for b in wgfaiss_old wgfaiss; do echo "== $b ip k=1000,2048"; timeout 120 ./$b bench flat --metric ip --nq 10000 --k 1000,2048 --precisions exact --iters 3 --single 0 2>&1 | grep -E "d=128 batch"; done
echo "== cosine k=1000 (new)"; timeout 80 ./wgfaiss bench flat --metric cosine --nq 10000 --k 1000 --precisions exact --iters 3 --single 0 2>&1 | grep -E "d=128 batch"
