# Tenth session, final figures on one card (all in one call).
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
echo "== flat d=128"; timeout 240 ./wgfaiss bench flat --nq 10000 --k 10,100,1000,2048 --single 100 --iters 3 --precisions f32,exact,f16,f16-verified > $O/flat128.txt 2>&1; grep -vE "XDG|added" $O/flat128.txt
echo "== flat d=96,768"; timeout 200 ./wgfaiss bench flat --nq 10000 --dim 96,768 --k 10 --single 20 --iters 3 --precisions f32,exact > $O/flat96_768.txt 2>&1; grep -vE "XDG|added" $O/flat96_768.txt
echo "== torch fp32"; timeout 240 python3 peer_flat.py --nb 1000000 --nq 10000 --dim 128,96,768 --k 10,100,1000,2048 --iters 2 > $O/torch_flat.txt 2>&1; cat $O/torch_flat.txt | grep -v "^$"
echo "== torch f16 (same algorithm)"; timeout 120 python3 peer_flat.py --nb 1000000 --nq 10000 --dim 128 --k 10 --half --iters 2 2>&1 | tail -4
echo "== serve flat exact"; timeout 150 ./wgfaiss bench serve --index flat --precision exact 2>&1 | grep -vE "XDG"
echo "== serve ivf"; timeout 200 ./wgfaiss bench serve --index ivf 2>&1 | grep -vE "XDG"
echo "== topk"; timeout 60 ./wgfaiss bench topk --iters 5 2>&1 | grep -E "stream_read|topk"
timeout 60 python3 peer_topk.py 2>&1 | tail -3
