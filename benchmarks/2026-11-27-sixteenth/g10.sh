# The tuner on the f16 GEMM family (candidates now in both forms) with commit 5681848's binary.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
timeout 300 ./wgfaiss tune --families gemm_coop --out $O/tune-gemm-coop.json 2>&1 | grep -vE "XDG|^$"
cat $O/tune-gemm-coop.json
