# The tuner on the f16 GEMM family at 4096^3 (an experiment: tune_gemm_coop with n = 2 * s.gemm, not kept), candidates in both forms.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
timeout 300 ./wgfaiss tune --families gemm_coop --out $O/tune-gemm-coop.json 2>&1 | grep -vE "XDG|^$"
python3 -c "import json,sys; d=json.load(open('$O/tune-gemm-coop.json')); print(d['vulkan']['NVIDIA H100 80GB HBM3'])"
