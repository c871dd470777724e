"""Shared timing for the peer scripts: GPU time of a torch callable with CUDA events."""
import time

import torch


def events_ms(fn, calls):
    """Milliseconds per call of `calls` calls back to back between two CUDA events."""
    a = torch.cuda.Event(enable_timing=True)
    b = torch.cuda.Event(enable_timing=True)
    a.record()
    for _ in range(calls):
        fn()
    b.record()
    torch.cuda.synchronize()
    return a.elapsed_time(b) / calls


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def median_ms(fn, iters, warmup=3):
    """Median of `iters` timings (milliseconds) after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    return median(events_ms(fn, 1) for _ in range(iters))


def sustained_ms(fn, iters, warm_s=0.3, reps=5):
    """Milliseconds per call of `iters` calls back to back between two events (the median of
    `reps` such runs), after `warm_s` seconds of calls to raise the clocks — the way
    `wgfaiss bench gemm --sustained` times its kernels."""
    t0 = time.time()
    while time.time() - t0 < warm_s:
        fn()
        torch.cuda.synchronize()
    return median(events_ms(fn, iters) for _ in range(reps))
