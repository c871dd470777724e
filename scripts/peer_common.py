"""Shared timing for the peer scripts: median GPU time of a torch callable with CUDA events."""
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
