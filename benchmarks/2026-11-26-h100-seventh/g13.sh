echo commit $(cat commit.txt)
nvidia-smi --query-gpu=name --format=csv
for t in t_knn t_ivf; do echo "== $t"; timeout 300 ./$t 2>&1 | grep -E "^test result|panicked" -A3 | head -6; done
timeout 240 ./wgfaiss bench serve --index flat 2>&1 | grep -vE "XDG|^$" | tail -12
timeout 240 ./wgfaiss bench serve --index ivf --nprobe 64 2>&1 | grep -vE "XDG|^$" | tail -12
