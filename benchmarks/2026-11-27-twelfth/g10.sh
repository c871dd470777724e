# The software-pipelined key kernel against c2a87b8 (same call).
echo commit $(cat commit.txt); date -u
O=${OUT:-.}
echo "== tests"; for t in t_knn_half t_flat; do timeout 150 ./$t > $O/$t.txt 2>&1; grep -E "test result|FAILED|panicked" $O/$t.txt | head -4; done
B() { timeout 60 ./$1 bench flat --nq $n --k $k --precisions exact --iters 7 --single 0 2>&1 | grep 'd=128 batch' | tail -1; }
for k in 10; do for n in 8 16 32 64 128 192; do echo "old $(B wgfaiss_old)"; echo "new $(B wgfaiss)"; done; done
k=100; for n in 64 256; do echo "old $(B wgfaiss_old)"; echo "new $(B wgfaiss)"; done
K() { WGFAISS_PROFILE=1 timeout 40 ./$1 bench flat --nq $n --k 10 --precisions exact --iters 3 --single 0 2>&1 | grep -A9 "WGFAISS_PROFILE: " | grep -E "half_keys" | tail -2 | awk '{print $1}' | tr '\n' ' '; }
for n in 16 64 192; do echo "keys $n old $(K wgfaiss_old) new $(K wgfaiss)"; done
S() { timeout 100 ./$1 bench serve --index flat --precision exact 2>&1 | grep -E "adaptive|window |coalescer:" ; }
echo "== serve old"; S wgfaiss_old; echo "== serve new"; S wgfaiss; echo "== serve old"; S wgfaiss_old; echo "== serve new"; S wgfaiss
