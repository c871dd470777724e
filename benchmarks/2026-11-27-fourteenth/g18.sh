# wgfaiss tune --families tiles on the card with the tiled key kernel in the tuner.
echo commit $(cat commit.txt); date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
O=${OUT:-.}
timeout 400 ./wgfaiss tune --families tiles --out $O/tuned-tiles.json 2>&1 | grep -vE "XDG|^$" | tail -30
python3 -c "import json,sys; d=json.load(open('$O/tuned-tiles.json')); [print(b, a, {k:v for k,v in e.get('knn',{}).items() if 'tile' in k}) for b,x in d.items() if isinstance(x,dict) for a,e in x.items() if isinstance(e,dict) and 'knn' in e]" 2>&1 | tail -5
