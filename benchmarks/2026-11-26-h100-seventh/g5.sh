timeout 120 ./wgfaiss bench gemm --f16 --coop-peak --sustained --shapes 4096x4096x4096 --trans nn --iters 5 2>&1 | stdbuf -oL grep -vE "XDG|^$"
