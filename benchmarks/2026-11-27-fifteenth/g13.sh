# IVF keys scan: query layout passes with a workgroup per query, against 03e05a9.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
timeout 300 ./t_ivf > $O/t_ivf.txt 2>&1; echo "t_ivf: $(grep -E 'test result|FAILED|panicked' $O/t_ivf.txt | head -5)"
for b in wgfaiss_old wgfaiss; do echo "== profile ivf 64 $b"; WGFAISS_PROFILE=1 timeout 100 ./$b bench ivf --nq 64 --nprobe 64 --single 0 --niter 5 2>&1 | grep -E "ivf_widths|ivf_pair_offsets|ivf_offsets|knn_" | tail -4; done
for b in wgfaiss_old wgfaiss wgfaiss_old wgfaiss; do echo "== ivf $b"; timeout 100 ./$b bench ivf --nq 10000 --nprobe 16,64 --single 0 --niter 5 --scans auto 2>&1 | grep -E "^  auto" ; timeout 100 ./$b bench ivf --nq 64 --nprobe 64 --single 0 --niter 5 2>&1 | grep -E "^  auto"; done
