# IVF serve one-batch figure: old (2097637) against new, alternating.
echo commit $(cat commit.txt) "(old: 2097637)"; date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
S() { timeout 150 ./$1 bench serve --index ivf --precision exact --nprobe 64 2>&1 | grep -E "one batch|adaptive" ; }
for b in wgfaiss_old wgfaiss wgfaiss_old wgfaiss; do echo "== $b"; S $b; done
