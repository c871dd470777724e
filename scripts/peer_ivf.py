#!/usr/bin/env python3
"""faiss-cpu peer for `wgfaiss bench ivf --save-data DIR`: IndexIVFFlat on the same data
(k-means 20 iterations, the same nlist), recall@k against the same exact neighbours, QPS per
nprobe with all cores. Needs faiss-cpu (carry the wheel: pip install --no-deps faiss_cpu*.whl).

Usage: python3 scripts/peer_ivf.py DIR --nlist 4096 --nprobe 16,64 --k 10
"""
import argparse
import os
import time

import faiss
import numpy as np


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--nlist", type=int, default=4096)
    p.add_argument("--nprobe", default="16,64")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--niter", type=int, default=20)
    a = p.parse_args()
    xb = np.load(os.path.join(a.dir, "base.npy")).astype("float32")
    xq = np.load(os.path.join(a.dir, "queries.npy")).astype("float32")
    gt = np.load(os.path.join(a.dir, "gt.npy"))
    d = xb.shape[1]
    print(f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads; "
          f"{xb.shape[0]} x {d} base, {xq.shape[0]} queries")
    quant = faiss.IndexFlatL2(d)
    index = faiss.IndexIVFFlat(quant, d, a.nlist)
    index.cp.niter = a.niter
    t = time.time()
    index.train(xb)
    print(f"train (k-means {a.niter} iterations): {time.time() - t:.2f} s")
    t = time.time()
    index.add(xb)
    print(f"add: {time.time() - t:.2f} s")
    print(f"{'nprobe':>7} {'recall':>9} {'batch ms':>12} {'QPS':>11}")
    for nprobe in (int(v) for v in a.nprobe.split(",")):
        index.nprobe = nprobe
        index.search(xq[:100], a.k)
        t = time.time()
        _, ids = index.search(xq, a.k)
        s = time.time() - t
        hits = sum(len(set(ids[i]) & set(gt[i][: a.k])) for i in range(xq.shape[0]))
        print(f"{nprobe:>7} {hits / (xq.shape[0] * a.k):>9.4f} {s * 1e3:>12.1f} {xq.shape[0] / s:>11.0f}")


if __name__ == "__main__":
    main()
