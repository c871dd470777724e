#!/usr/bin/env python3
"""Peer timings for `wgfaiss bench topk`: torch topk on the same card, same shape.

Usage: python3 scripts/peer_topk.py --rows 1000 --cols 1000000 --k 10,1024
"""
import argparse

import torch

from peer_common import median_ms




def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=1000)
    p.add_argument("--cols", type=int, default=1_000_000)
    p.add_argument("--k", default="10,1024")
    p.add_argument("--iters", type=int, default=5)
    a = p.parse_args()
    x = torch.rand(a.rows, a.cols, device="cuda") * 2 - 1
    nbytes = a.rows * a.cols * 4
    print(f"device {torch.cuda.get_device_name()} torch {torch.__version__}")
    print(f"{'kernel':<36} {'ms':>9} {'GB/s':>9}")
    y = torch.empty_like(x)
    ms = median_ms(lambda: y.copy_(x), a.iters)
    print(f"{'torch copy (read+write)':<36} {ms:>9.3f} {2 * nbytes / ms / 1e6:>9.0f}")
    for k in (int(v) for v in a.k.split(",")):
        for largest in (False, True):
            ms = median_ms(lambda: torch.topk(x, k, dim=1, largest=largest, sorted=True), a.iters)
            name = f"torch.topk k={k} {'largest' if largest else 'smallest'}"
            print(f"{name:<36} {ms:>9.3f} {nbytes / ms / 1e6:>9.0f}")


if __name__ == "__main__":
    main()
