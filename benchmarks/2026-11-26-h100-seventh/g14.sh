echo commit $(cat commit.txt)
nvidia-smi --query-gpu=name --format=csv
for t in t_knn t_ivf; do echo "== $t"; timeout 300 ./$t 2>&1 | grep -E "^test result|panicked" -A3 | head -6; done
