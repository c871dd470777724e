echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
O=${OUT:-.}
for n in 8 16 32 64 128; do
  for p in f32 f16-verified; do
    echo "== nq $n $p"
    WGFAISS_PROFILE=1 timeout 60 ./wgfaiss bench flat --nq $n --k 10 --precisions $p --iters 5 --single 0 > $O/prof_${n}_$p.txt 2>&1
    grep -A12 "WGFAISS_PROFILE: " $O/prof_${n}_$p.txt | tail -14; grep "d=128" $O/prof_${n}_$p.txt
  done
done
echo "== serve flat"; timeout 150 ./wgfaiss bench serve --index flat --precision exact 2>&1 | grep -vE "XDG"
