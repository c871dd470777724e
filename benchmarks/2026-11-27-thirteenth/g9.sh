# Fused f16 kernel ablations (trusted): keys compared but never inserted; one key read per step.
echo commit $(cat commit.txt) + ablation switch; date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
F() { env "$@" timeout 150 ./wgfaiss bench flat --nq 10000 --k 10 --precisions f16 --iters 3 --single 0 2>&1 | grep -E "d=128 batch"; }
for v in X=1 WGFAISS_EXP_ABL=nokeys WGFAISS_EXP_ABL=noscan X=1 WGFAISS_EXP_ABL=nokeys WGFAISS_EXP_ABL=noscan; do echo "-- $v $(F $v)"; done
