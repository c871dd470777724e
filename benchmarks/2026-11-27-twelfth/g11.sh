# The per-caller coalescer on an H200 against ea4e8fe (same call).
echo commit $(cat commit.txt) against ea4e8fe; date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
echo "== tests"; timeout 100 ./t_coalesce > $O/t_coalesce.txt 2>&1; grep -E "test result|FAILED|panicked" $O/t_coalesce.txt | head -4
S() { timeout 150 ./$1 bench serve --index $2 --precision exact ${@:3} 2>&1 | grep -vE "XDG" ; }
for r in 1 2; do echo "== flat, old (ea4e8fe)"; S wgfaiss_old flat; echo "== flat, new"; S wgfaiss flat; done
echo "== ivf nprobe 64, old (ea4e8fe)"; S wgfaiss_old ivf --nprobe 64
echo "== ivf nprobe 64, new"; S wgfaiss ivf --nprobe 64
