# The IVF tests with near ties compared per run: repeated (fresh seeds), trusted and checked.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
for i in 1 2 3 4 5 6; do timeout 100 ./t_ivf > $O/t_ivf_$i.txt 2>&1; echo "t_ivf run $i: $(grep -E 'test result|FAILED|panicked|places' $O/t_ivf_$i.txt | head -4)"; done
for i in 1 2 3; do WGFAISS_CHECKED_KERNELS=1 timeout 100 ./t_ivf > $O/t_ivf_c$i.txt 2>&1; echo "t_ivf checked run $i: $(grep -E 'test result|FAILED|panicked|places' $O/t_ivf_c$i.txt | head -4)"; done
