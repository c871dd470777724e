echo commit $(cat commit.txt) + coalescer padding to multiples of 16; date -u
S() { env "$@" timeout 100 ./wgfaiss bench serve --index flat --precision exact 2>&1 | grep -E "one batch|adaptive|window |coalescer:" ; }
echo "== in_flight 1"; S X=1
echo "== in_flight 2"; S WGFAISS_SUBMIT_COALESCE_IN_FLIGHT=2
