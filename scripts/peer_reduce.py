#!/usr/bin/env python3
"""Peer timings for `wgfaiss bench reduce`: torch reductions on the same card, same shapes.

Usage (on the GPU machine): python3 scripts/peer_reduce.py --n 268435456 --cols 65536 --iters 20
Prints a table and, with --json, writes the rows as JSON.
"""
import argparse
import json

import torch

from peer_common import median_ms




def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=1 << 28)
    p.add_argument("--cols", type=int, default=65536)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--json")
    a = p.parse_args()
    torch.manual_seed(0)
    x = torch.rand(a.n, device="cuda") * 2 - 1
    rows = a.n // a.cols if a.cols else 0
    m = x[: rows * a.cols].view(rows, a.cols) if rows else None
    nbytes = a.n * 4
    out = []

    def add(name, fn, b):
        ms = median_ms(fn, a.iters)
        out.append({"kernel": name, "ms": ms, "gbps": b / ms / 1e6})

    add("torch x.sum()", lambda: x.sum(), nbytes)
    add("torch x.max()", lambda: x.max(), nbytes)
    add("torch x.argmax()", lambda: x.argmax(), nbytes)
    if rows:
        add(f"torch m.sum(1) {rows}x{a.cols}", lambda: m.sum(1), rows * a.cols * 4)
        add(f"torch m.argmax(1) {rows}x{a.cols}", lambda: m.argmax(1), rows * a.cols * 4)
    y = torch.empty_like(x)
    add("torch copy (read+write)", lambda: y.copy_(x), 2 * nbytes)
    print(f"device {torch.cuda.get_device_name()} torch {torch.__version__}")
    print(f"{'kernel':<36} {'ms':>9} {'GB/s':>9}")
    for r in out:
        print(f"{r['kernel']:<36} {r['ms']:>9.3f} {r['gbps']:>9.1f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"device": torch.cuda.get_device_name(), "rows": out}, f, indent=1)


if __name__ == "__main__":
    main()
