echo commit $(cat commit.txt)
nvidia-smi --query-gpu=name --format=csv
./wgfaiss info 2>&1 | grep -E "gemm.coop_(tile_n|stage_type|stages)"
timeout 60 ./t_gemm f16 2>&1 | grep -E "^test result|panicked" -A3 | head -4
timeout 60 ./wgfaiss bench gemm --f16 --sustained --shapes 4096x4096x4096,8192x8192x8192 --trans nn,nt --iters 10 2>&1 | grep -vE "XDG|^$"
timeout 60 python3 peer_gemm.py --shapes 4096x4096x4096,8192x8192x8192 --iters 10
