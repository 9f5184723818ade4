"""Shared by the benchmark scripts: the median wall time of a call, after warm-up."""

from __future__ import annotations

import statistics
import time


def median_seconds(fn, repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)
