echo commit $(cat commit.txt)
nvidia-smi --query-gpu=name --format=csv
timeout 60 ./t_gemm 2>&1 | grep -E "^test |^test result|panicked" -A3 | head -10
timeout 120 ./wgfaiss bench gemm --f16 --coop-peak --sustained --shapes 4096x4096x4096,1000x700x300 --trans nn,nt --iters 10 2>&1 | grep -vE "XDG|^$"
