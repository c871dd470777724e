#!/usr/bin/env python3
"""Peers for `wgfaiss bench dataset` on the same files: torch brute force on the GPU (one
matmul + topk per query batch, fp32 without TF32; L2 as |x|^2 - 2<q,x>), faiss-cpu IndexFlatL2
and IndexIVFFlat at the same nlist / nprobe (all cores). Recall@1/10/100 against the same
ground truth (the given file, else torch's exact fp32 neighbours, else faiss's),
QPS of the whole batch, and single-query latency percentiles. Prints one table and writes
JSON in `wgfaiss bench dataset`'s schema, so `wgfaiss bench dataset --plot P --peer this.json`
draws both.

Reads .fvecs, .bvecs, .ivecs, .npy and IDX (optionally .gz), as wgfaiss does.

Usage: python3 scripts/peer_dataset.py --base B --queries Q [--gt G] --nlist 4096
       --nprobe 1,4,16,64 --k 10 [--max-queries N] [--json out.json] [--no-faiss] [--no-torch]
       [--ours wgfaiss.json]   # `wgfaiss bench dataset --json` results: one table, side by side
"""
import argparse
import gzip
import json
import os
import time

import numpy as np


def load(path):
    """A 2-D float array (or ids) from any of the formats wgfaiss reads."""
    name = os.path.basename(path).lower()
    opener = gzip.open if name.endswith(".gz") else open
    if name.endswith(".gz"):
        name = name[:-3]
    with opener(path, "rb") as f:
        raw = f.read()
    ext = name.rsplit(".", 1)[-1] if "." in name else ""
    if ext in ("fvecs", "ivecs", "bvecs"):
        d = int(np.frombuffer(raw[:4], dtype="<i4")[0])
        width = 1 if ext == "bvecs" else 4
        rows = len(raw) // (4 + d * width)
        if ext == "bvecs":
            a = np.frombuffer(raw, dtype=np.uint8).reshape(rows, 4 + d)[:, 4:]
            return a.astype("float32")
        a = np.frombuffer(raw, dtype="<i4").reshape(rows, d + 1)[:, 1:]
        return a.view("<f4").astype("float32") if ext == "fvecs" else a.astype("int64")
    if ext == "npy":
        import io
        return np.load(io.BytesIO(raw))
    # IDX: two zero bytes, type, ndim, big-endian dims and values.
    code, ndim = raw[2], raw[3]
    dims = np.frombuffer(raw[4:4 + 4 * ndim], dtype=">u4").astype(int)
    dt = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    a = np.frombuffer(raw[4 + 4 * ndim:], dtype=dt)
    return a.reshape(dims[0], -1).astype("float32")


def recall(found, truth, r):
    if found.shape[1] < r or truth.shape[1] < r:
        return None
    hits = sum(len(set(found[i, :r]) & set(truth[i, :r])) for i in range(found.shape[0]))
    return hits / (found.shape[0] * r)


def percentiles(times_ms):
    if not times_ms:
        return None, None, None
    s = sorted(times_ms)
    pick = lambda p: s[max(1, int(np.ceil(p / 100 * len(s)))) - 1]
    return pick(50), pick(95), pick(99)


def row(name, k, nprobe, ids, truth, batch_s, nq, single_ms, gpu_ms=None):
    p50, p95, p99 = percentiles(single_ms)
    return {
        "index": name, "k": k, "nprobe": nprobe,
        "recall_1": recall(ids, truth, 1), "recall_10": recall(ids, truth, 10),
        "recall_100": recall(ids, truth, 100),
        "qps": nq / batch_s, "batch_ms": batch_s * 1e3, "gpu_ms": gpu_ms,
        "p50_ms": p50, "p95_ms": p95, "p99_ms": p99,
    }


def torch_exact(xb, xq, k, iters, latency):
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False
    dev = torch.device("cuda")
    b = torch.from_numpy(xb).to(dev)
    bn = (b * b).sum(1)
    q = torch.from_numpy(xq).to(dev)

    def search(qq):
        # Batches bound the distance matrix (as the wgfaiss flat index does).
        step = max(1, (1 << 30) // (4 * b.shape[0]))
        out = []
        for s in range(0, qq.shape[0], step):
            part = qq[s:s + step]
            dist = bn[None, :] - 2.0 * (part @ b.T)
            out.append(torch.topk(dist, k, dim=1, largest=False).indices)
        return torch.cat(out)

    search(q)
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        t = time.time()
        ids = search(q)
        torch.cuda.synchronize()
        times.append(time.time() - t)
    single = []
    for i in range(latency):
        t = time.time()
        search(q[i % q.shape[0]:i % q.shape[0] + 1])
        torch.cuda.synchronize()
        single.append((time.time() - t) * 1e3)
    return ids.cpu().numpy(), sorted(times)[len(times) // 2], single, torch.__version__


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--queries", required=True)
    p.add_argument("--gt")
    p.add_argument("--nlist", type=int, default=1024)
    p.add_argument("--nprobe", default="1,2,4,8,16,32,64,128")
    p.add_argument("--k", default="10")
    p.add_argument("--niter", type=int, default=20)
    p.add_argument("--max-queries", type=int, default=0)
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--latency", type=int, default=100)
    p.add_argument("--name")
    p.add_argument("--json")
    p.add_argument("--no-faiss", action="store_true")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--ours", help="wgfaiss bench dataset --json results, printed in the same table")
    a = p.parse_args()
    xb = np.ascontiguousarray(load(a.base), dtype="float32")
    xq = np.ascontiguousarray(load(a.queries), dtype="float32")
    if a.max_queries:
        xq = xq[: a.max_queries]
    nq, d = xq.shape
    ks = [int(v) for v in a.k.split(",")]
    kmax = max(ks)
    results, machine = [], []
    truth = load(a.gt).astype("int64")[:nq] if a.gt else None
    if not a.no_torch:
        import torch
        machine.append(torch.cuda.get_device_name(0))
        if truth is None:  # torch's exact fp32 neighbours as the ground truth
            truth = torch_exact(xb, xq, min(max(kmax, 100), len(xb)), 1, 0)[0]
        for k in ks:
            ids, s, single, ver = torch_exact(xb, xq, k, a.iters, a.latency)
            results.append(row(f"torch {ver} matmul+topk", k, 0, ids[:, :k], truth, s, nq, single))
    if truth is None:
        import faiss
        flat = faiss.IndexFlatL2(d)
        flat.add(xb)
        truth = flat.search(xq, max(kmax, 100))[1]
    if not a.no_faiss:
        import faiss
        machine.append(f"faiss-cpu {faiss.__version__} ({faiss.omp_get_max_threads()} threads)")
        flat = faiss.IndexFlatL2(d)
        flat.add(xb)
        for k in ks:
            flat.search(xq[:100], k)
            t = time.time()
            _, ids = flat.search(xq, k)
            s = time.time() - t
            single = []
            for i in range(min(a.latency, 20)):
                t0 = time.time()
                flat.search(xq[i:i + 1], k)
                single.append((time.time() - t0) * 1e3)
            results.append(row("faiss-cpu Flat", k, 0, ids, truth, s, nq, single))
        quant = faiss.IndexFlatL2(d)
        ivf = faiss.IndexIVFFlat(quant, d, a.nlist)
        ivf.cp.niter = a.niter
        t = time.time()
        ivf.train(xb)
        train_s = time.time() - t
        t = time.time()
        ivf.add(xb)
        print(f"faiss-cpu IVF{a.nlist},Flat: train {train_s:.2f} s, add {time.time() - t:.2f} s")
        for k in ks:
            for nprobe in (int(v) for v in a.nprobe.split(",")):
                if nprobe > a.nlist:
                    continue
                ivf.nprobe = nprobe
                ivf.search(xq[:100], k)
                t = time.time()
                _, ids = ivf.search(xq, k)
                s = time.time() - t
                single = []
                for i in range(a.latency):
                    t0 = time.time()
                    ivf.search(xq[i % nq:i % nq + 1], k)
                    single.append((time.time() - t0) * 1e3)
                results.append(row(f"faiss-cpu IVF{a.nlist},Flat", k, nprobe, ids, truth, s, nq,
                                   single))
    if a.ours:
        with open(a.ours) as f:
            ours = json.load(f)
        results = [dict(r, index=f"wgfaiss {r['index']}") for r in ours["results"]] + results
        machine.insert(0, f"wgfaiss on {ours['adapter']}")
    fmt = lambda v, n=4: "-" if v is None else f"{v:.{n}f}"
    print(f"{len(xb)} x {d} base, {nq} queries on {'; '.join(machine)}")
    print(f"{'index':<32} {'k':>5} {'nprobe':>6} {'R@1':>8} {'R@10':>8} {'R@100':>8} "
          f"{'QPS':>11} {'batch ms':>10} {'p50 ms':>8} {'p99 ms':>8}")
    for r in results:
        print(f"{r['index']:<32} {r['k']:>5} {r['nprobe'] or '-':>6} {fmt(r['recall_1']):>8} "
              f"{fmt(r['recall_10']):>8} {fmt(r['recall_100']):>8} {r['qps']:>11.0f} "
              f"{r['batch_ms']:>10.2f} {fmt(r['p50_ms'], 3):>8} {fmt(r['p99_ms'], 3):>8}")
    if a.json:
        results = [r for r in results if not r["index"].startswith("wgfaiss ")]
        doc = {"dataset": a.name or os.path.basename(a.base), "adapter": "; ".join(machine),
               "nb": len(xb), "nq": nq, "d": d, "metric": "l2", "builds": [],
               "results": results}
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main()
