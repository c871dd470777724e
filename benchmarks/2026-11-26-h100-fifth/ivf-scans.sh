#!/bin/bash
# The first GPU calls of the next session: the IVF keys scan (built 2026-11-26, fourth session,
# not yet timed) against the fused scan on one index, faiss-cpu in the same call.
# Run from .gpu/ with wgfaiss, peer_*.py and the faiss-cpu wheel carried (../shared/gpu/README.md),
# in three calls (each well under the 600 s limit): `bash ivf-scans.sh 1`, `2`, then `3`.
set -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
case "${1:-1}" in
1)
  python3 -m pip install --no-deps -q --target /tmp/faisspy faiss_cpu*.whl > /dev/null 2>&1
  ./wgfaiss bench ivf --nprobe 16,32,64 --single 50 --scans fused,keys --save-data /tmp/sift \
    --json "$OUT/ivf-scans.json"
  PYTHONPATH=/tmp/faisspy python3 peer_ivf.py /tmp/sift --nlist 4096 --nprobe 16,64 --k 10
  ;;
2)
  # The flat kernel's generated A staging changed (row map, identity in grid mode): confirm
  # no regression against the third session (k = 10: 89.6 ms GPU), torch in the same call.
  ./wgfaiss bench flat --nb 1000000 --nq 10000 --k 10 --single 20 --iters 3
  python3 peer_flat.py --nb 1000000 --nq 10000 --k 10
  # k where the fused lists shrink their tiles (100) and beyond them (1000: keys only).
  ./wgfaiss bench ivf --nprobe 64 --k 100 --single 20 --scans fused,keys --niter 10
  ./wgfaiss bench ivf --nprobe 64 --k 1000 --single 5 --scans keys --niter 10
  # Where the time goes, per kernel.
  WGFAISS_PROFILE=1 WGFAISS_IVF_SCAN=keys ./wgfaiss bench ivf --nprobe 64 --single 2 --niter 10 2>&1 | tail -40
  # Several arenas in one plan (the third session's per-arena plans cost 1.5-1.6x): 256 MiB
  # bindings put the 512 MB of lists in 2-3 arenas.
  WGFAISS_BUFFERS_MAX_BINDING_BYTES=268435456 ./wgfaiss bench ivf --nprobe 16,64 --single 20 \
    --scans fused,keys --niter 10
  ;;
3)
  # The coalescer's adaptive start (fourth session) on and off, flat and IVF, in one run each.
  ./wgfaiss bench serve --index flat
  ./wgfaiss bench serve --index ivf --nprobe 64
  # The H100 entry's ivf.scan from a measurement (merge into config/hardware_params.json).
  ./wgfaiss tune --families ivf --out "$OUT/tuned-ivf.json"
  ;;
esac
