echo commit $(cat commit.txt) + tuner sizes; date -u
S() { env "$@" timeout 100 ./wgfaiss bench serve --index flat --precision exact 2>&1 | grep -E "one batch|adaptive|window |coalescer:" ; }
echo "== default"; S X=1
echo "== in_flight 2"; S WGFAISS_SUBMIT_COALESCE_IN_FLIGHT=2
echo "== in_flight 2 window 100"; S WGFAISS_SUBMIT_COALESCE_IN_FLIGHT=2 WGFAISS_SUBMIT_COALESCE_WINDOW_US=100
echo "== in_flight 3"; S WGFAISS_SUBMIT_COALESCE_IN_FLIGHT=3
echo "== torch small batches"; timeout 120 python3 peer_flat.py --nb 1000000 --nq 16 --dim 128 --k 10 --iters 5 2>&1 | tail -2; timeout 120 python3 peer_flat.py --nb 1000000 --nq 64 --dim 128 --k 10,100 --iters 5 2>&1 | tail -3; timeout 120 python3 peer_flat.py --nb 1000000 --nq 256 --dim 128 --k 10,100 --iters 5 2>&1 | tail -3
