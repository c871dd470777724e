#!/usr/bin/env python3
"""Peer timings for `wgfaiss bench gemm`: torch matmul on the same card, same shapes.

fp32 with TF32 off (the exact peer), and f16 (the tensor-core peer).
Usage: python3 scripts/peer_gemm.py --shapes 1024x1024x1024,4096x4096x4096 --iters 20
With --sustained, each figure is `iters` products back to back after the clocks are raised
(as `wgfaiss bench gemm --sustained`); without, the median of single products.
"""
import argparse
import json

import torch

from peer_common import median_ms, sustained_ms




def main():
    p = argparse.ArgumentParser()
    p.add_argument("--shapes", default="1024x1024x1024,4096x4096x4096,16x4096x4096")
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--sustained", action="store_true")
    p.add_argument("--json")
    a = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    out = []
    for s in a.shapes.split(","):
        m, n, k = (int(x) for x in s.split("x"))
        for dtype in (torch.float32, torch.float16):
            x = torch.rand(m, k, device="cuda", dtype=dtype)
            y = torch.rand(k, n, device="cuda", dtype=dtype)
            yt = torch.rand(n, k, device="cuda", dtype=dtype)
            for op, fn in (("nn", lambda: x @ y), ("nt", lambda: x @ yt.T)):
                ms = sustained_ms(fn, a.iters) if a.sustained else median_ms(fn, a.iters)
                out.append({"shape": s, "dtype": str(dtype).split(".")[1], "op": op, "ms": ms,
                            "tflops": 2 * m * n * k / ms / 1e9})
    timing = "sustained" if a.sustained else "single products"
    print(f"device {torch.cuda.get_device_name()} torch {torch.__version__} (tf32 off, {timing})")
    print(f"{'MxNxK':<18} {'dtype':<8} {'op':<4} {'ms':>9} {'TFLOP/s':>9}")
    for r in out:
        print(f"{r['shape']:<18} {r['dtype']:<8} {r['op']:<4} {r['ms']:>9.3f} {r['tflops']:>9.2f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"device": torch.cuda.get_device_name(), "rows": out}, f, indent=1)


if __name__ == "__main__":
    main()
