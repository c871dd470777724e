#!/usr/bin/env python3
"""Peer timings for `wgfaiss bench qr`: torch Q.T @ v on the same card, same shapes.

Q as torch stores it (m x k row-major, Q.T @ v) and as wgfaiss stores it (column-major, i.e. a
k x m row-major tensor, Qc @ v). Usage: python3 scripts/peer_qr.py --shapes 4096x128,65536x256
"""
import argparse

import torch

from peer_common import median_ms




def main():
    p = argparse.ArgumentParser()
    p.add_argument("--shapes", default="4096x128,65536x256")
    p.add_argument("--iters", type=int, default=50)
    a = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    print(f"device {torch.cuda.get_device_name()} torch {torch.__version__}")
    print(f"{'MxK':<12} {'kernel':<24} {'us':>9} {'GB/s':>8}")
    for s in a.shapes.split(","):
        m, k = (int(x) for x in s.split("x"))
        q = torch.rand(m, k, device="cuda") * 2 - 1
        qc = q.T.contiguous()
        v = torch.rand(m, device="cuda") * 2 - 1
        c = torch.rand(k, device="cuda")
        nbytes = (m * k + m) * 4
        for name, fn in (("Q.T @ v (Q m x k)", lambda: q.T @ v),
                         ("Qc @ v (column-major)", lambda: qc @ v),
                         ("v - Q @ c", lambda: v - q @ c)):
            us = median_ms(fn, a.iters, warmup=5) * 1e3
            print(f"{s:<12} {name:<24} {us:>9.1f} {nbytes / us / 1e3:>8.0f}")
        us = median_ms(lambda: torch.linalg.qr(q), 5, warmup=2) * 1e3
        print(f"{s:<12} {'torch.linalg.qr':<24} {us:>9.1f} {'-':>8}")


if __name__ == "__main__":
    main()
