"""Shared timing for the peer scripts: GPU time of a torch callable with CUDA events."""
import time

import torch


def median_ms(fn, iters, warmup=3):
    """Median of `iters` timings (milliseconds) after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[len(times) // 2]


def sustained_ms(fn, iters, warm_s=0.3, reps=5):
    """Milliseconds per call of `iters` calls back to back between two events (the median of
    `reps` such runs), after `warm_s` seconds of calls to raise the clocks — the way
    `wgfaiss bench gemm --sustained` times its kernels."""
    t0 = time.time()
    while time.time() - t0 < warm_s:
        fn()
        torch.cuda.synchronize()
    runs = []
    for _ in range(reps):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(iters):
            fn()
        b.record()
        torch.cuda.synchronize()
        runs.append(a.elapsed_time(b) / iters)
    runs.sort()
    return runs[len(runs) // 2]
