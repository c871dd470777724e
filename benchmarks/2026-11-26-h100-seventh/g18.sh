echo commit $(cat commit.txt)
nvidia-smi --query-gpu=name --format=csv
timeout 200 ./wgfaiss tune --families gemm_coop --out /tmp/tuned.json 2>&1 | grep -vE "XDG|^$"
cp /tmp/tuned.json $OUT/tuned-coop.json
WGFAISS_CONFIG=/tmp/tuned.json timeout 60 ./wgfaiss bench gemm --f16 --sustained --shapes 4096x4096x4096 --trans nn,nt --iters 10 2>&1 | grep -vE "XDG|^$"
