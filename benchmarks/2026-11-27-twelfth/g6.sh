# Twelfth session: the per-caller coalescer against the previous one (ea4e8fe), same call.
echo commit $(cat commit.txt) + H100 coalesce_adaptive 1 '(uncommitted)'; date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
echo "== tests"; for t in t_coalesce t_flat t_knn_half; do timeout 150 ./$t > $O/$t.txt 2>&1; grep -E "test result|FAILED|panicked" $O/$t.txt | head -4; done
S() { timeout 150 ./$1 bench serve --index $2 --precision exact ${@:3} 2>&1 | grep -vE "XDG" ; }
for r in 1 2 3; do echo "== flat, old (ea4e8fe)"; S wgfaiss_old flat; echo "== flat, new"; S wgfaiss flat; done
echo "== ivf nprobe 64, old (ea4e8fe)"; S wgfaiss_old ivf --nprobe 64
echo "== ivf nprobe 64, new"; S wgfaiss ivf --nprobe 64
