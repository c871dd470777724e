#!/usr/bin/env python3
"""Peer timings for `wgfaiss bench flat`: torch brute-force k-NN (fp32 matmul + topk, queries
in chunks) on the same card and shape, random data. With --half, also the f16 mode's
algorithm in torch: candidates from an f16 matmul (tensor cores), the best kc = max(2k, k + 16)
by those keys, an exact fp32 re-rank of the candidates, and its recall against fp32.

Usage: python3 scripts/peer_flat.py --nb 1000000 --nq 10000 --dim 128 --k 10,100,1000 [--half]
"""
import argparse

import torch

from peer_common import median_ms


def knn(xb, xb_norm, q, k, chunk):
    out_d, out_i = [], []
    for s in range(0, q.shape[0], chunk):
        qc = q[s:s + chunk]
        d = (qc * qc).sum(1, keepdim=True) - 2.0 * (qc @ xb.T) + xb_norm
        v, i = torch.topk(d, k, dim=1, largest=False, sorted=True)
        out_d.append(v)
        out_i.append(i)
    return torch.cat(out_d), torch.cat(out_i)


def knn_half(xb16, xb, xb_norm, q, k, kc, chunk):
    out_d, out_i = [], []
    for s in range(0, q.shape[0], chunk):
        qc = q[s:s + chunk]
        keys = xb_norm - 2.0 * (qc.half() @ xb16.T).float()
        _, cand = torch.topk(keys, kc, dim=1, largest=False, sorted=False)
        xs = xb[cand]
        dist = ((qc[:, None, :] - xs) ** 2).sum(-1)
        v, j = torch.topk(dist, k, dim=1, largest=False, sorted=True)
        out_d.append(v)
        out_i.append(cand.gather(1, j))
    return torch.cat(out_d), torch.cat(out_i)


def recall(got, want):
    hit = 0
    for g, w in zip(got.tolist(), want.tolist()):
        hit += len(set(g) & set(w))
    return hit / want.numel()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--nb", type=int, default=1_000_000)
    p.add_argument("--nq", type=int, default=10_000)
    p.add_argument("--dim", default="128")
    p.add_argument("--k", default="10,100,1000")
    p.add_argument("--chunk", type=int, default=1024)
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--half", action="store_true")
    a = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    print(f"device {torch.cuda.get_device_name()} torch {torch.__version__} (fp32, no tf32)")
    print(f"{'case':<14} {'nq':>7} {'k':>6} {'ms':>10} {'QPS':>12}")
    for d in (int(v) for v in a.dim.split(",")):
        xb = torch.rand(a.nb, d, device="cuda") * 2 - 1
        q = torch.rand(a.nq, d, device="cuda") * 2 - 1
        xb_norm = (xb * xb).sum(1)[None, :]
        for k in (int(v) for v in a.k.split(",")):
            ms = median_ms(lambda: knn(xb, xb_norm, q, k, a.chunk), a.iters, warmup=1)
            print(f"{'d=%d batch' % d:<14} {a.nq:>7} {k:>6} {ms:>10.3f} {a.nq / ms * 1e3:>12.0f}")
            ms = median_ms(lambda: knn(xb, xb_norm, q[:1], k, a.chunk), 20)
            print(f"{'d=%d single' % d:<14} {1:>7} {k:>6} {ms:>10.3f} {1 / ms * 1e3:>12.0f}")
            if a.half:
                xb16 = xb.half()
                kc = max(2 * k, k + 16)
                ms = median_ms(lambda: knn_half(xb16, xb, xb_norm, q, k, kc, a.chunk), a.iters, warmup=1)
                r = recall(knn_half(xb16, xb, xb_norm, q, k, kc, a.chunk)[1], knn(xb, xb_norm, q, k, a.chunk)[1])
                print(f"{'d=%d f16 batch' % d:<14} {a.nq:>7} {k:>6} {ms:>10.3f} {a.nq / ms * 1e3:>12.0f} recall {r:.4f} (kc {kc})")
                ms = median_ms(lambda: knn_half(xb16, xb, xb_norm, q[:1], k, kc, a.chunk), 20)
                print(f"{'d=%d f16 single' % d:<14} {1:>7} {k:>6} {ms:>10.3f} {1 / ms * 1e3:>12.0f}")


if __name__ == "__main__":
    main()
