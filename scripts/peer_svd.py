#!/usr/bin/env python3
"""Peers for `wgfaiss bench svd --save-data DIR` and `wgfaiss bench pca`: torch.svd_lowrank
(same k + 10 columns, same iterations) on the same matrix, the exact singular values
(torch.linalg.svdvals in float64) to judge both, and torch.pca_lowrank + projection for PCA
timing at the bench pca shape (its own random data: timing only).

Usage: python3 scripts/peer_svd.py DIR --k 32 --iters 4 [--pca 1000000x768x128]
"""
import argparse
import os
import time

import numpy as np
import torch

from peer_common import median_ms


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--k", type=int, default=32)
    p.add_argument("--iters", type=int, default=4)
    p.add_argument("--pca", default="1000000x768x128")
    a = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    dev = torch.device("cuda")
    A = torch.from_numpy(np.load(os.path.join(a.dir, "a.npy"))).to(dev)
    m, n = A.shape
    q = min(a.k + 10, m, n)
    ms = median_ms(lambda: torch.svd_lowrank(A, q=q, niter=a.iters), 5, warmup=2)
    _, s, _ = torch.svd_lowrank(A, q=q, niter=a.iters)
    exact = torch.linalg.svdvals(A.double())
    print(f"{m}x{n} on {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    print(f"torch.svd_lowrank q={q} niter={a.iters}: {ms:.2f} ms")
    print("exact top:       " + " ".join(f"{v:.4f}" for v in exact[:4].tolist()))
    print("svd_lowrank top: " + " ".join(f"{v:.4f}" for v in s[:4].tolist()))
    rel = ((s[: a.k].double() - exact[: a.k]).abs() / exact[: a.k]).max().item()
    print(f"svd_lowrank max relative error of the top {a.k}: {rel:.2e}")
    nb, d_in, d_out = (int(v) for v in a.pca.split("x"))
    X = torch.rand(nb, d_in, device=dev)

    def pca():
        U, S, V = torch.pca_lowrank(X[:65536], q=d_out, niter=4)
        mean = X[:65536].mean(0)
        return (X - mean) @ V

    ms = median_ms(pca, 3, warmup=1)
    print(f"torch.pca_lowrank (65536-row sample) + projection of {nb} x {d_in} -> {d_out}: {ms:.1f} ms")


if __name__ == "__main__":
    main()
