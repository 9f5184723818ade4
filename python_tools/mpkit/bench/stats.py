"""Frame-time statistics: percentiles, FPS and the frames over a 30 / 60 FPS frame budget (a
count of slow frames, not of frames a display dropped)."""

from __future__ import annotations

import numpy as np


def percentiles(ms: list[float]) -> dict[str, float]:
    """p50, p90, p99 and mean of times in ms (empty: nothing)."""
    t = np.asarray(ms, dtype=np.float64)
    if t.size == 0:
        return {}
    return {"p50_ms": float(np.percentile(t, 50)), "p90_ms": float(np.percentile(t, 90)),
            "p99_ms": float(np.percentile(t, 99)), "mean_ms": float(t.mean())}


def summarize(frame_ms: list[float]) -> dict[str, float | int]:
    t = np.asarray(frame_ms, dtype=np.float64)
    if t.size == 0:
        return {}
    return {**percentiles(frame_ms), "fps": float(1000.0 / t.mean()),
            "over_budget_30": int((t > 1000 / 30).sum()),
            "over_budget_60": int((t > 1000 / 60).sum())}
