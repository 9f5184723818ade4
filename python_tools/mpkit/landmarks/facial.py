"""The facial keypoints the model sees: a fixed 106-point subset of the 468-point face mesh,
normalized to the model's [-1, 1] crop coordinates, and the facial-keypoint mask."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import yaml


@cache
def facial_indices() -> np.ndarray:
    groups = yaml.safe_load(Path(__file__).with_name("facial106.yaml").read_text())
    indices = np.array([i for group in groups.values() for i in group], dtype=np.int64)
    assert len(set(indices.tolist())) == len(indices), "facial106.yaml repeats an index"
    return indices


def to_unit(points_px: np.ndarray, size: int) -> np.ndarray:
    """Crop pixel (x, y) → [-1, 1] (align_corners=True: -1 and 1 are the corner pixel centres)."""
    return points_px[..., :2] * (2.0 / (size - 1)) - 1.0


def facial_mask(points_unit: np.ndarray, size: int, sigma: float = 0.03) -> np.ndarray:
    """[size, size] mask of the facial keypoints: a Gaussian blob per point, max-combined."""
    axis = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    gx = np.exp(-((axis[None, :] - points_unit[:, :1]) ** 2) / (2 * sigma**2))  # [P, size]
    gy = np.exp(-((axis[None, :] - points_unit[:, 1:2]) ** 2) / (2 * sigma**2))
    return np.max(gy[:, :, None] * gx[:, None, :], axis=0).astype(np.float32)


def facial_group(prefix: str) -> np.ndarray:
    """Positions, in facial_indices() order, of the groups whose name starts with `prefix`."""
    groups = yaml.safe_load(Path(__file__).with_name("facial106.yaml").read_text())
    out, start = [], 0
    for name, idx in groups.items():
        if name.startswith(prefix):
            out.extend(range(start, start + len(idx)))
        start += len(idx)
    return np.array(out, dtype=np.int64)


def facial_weights(emphasis: float = 2.0) -> np.ndarray:
    """Per-point loss weights in facial_indices() order: eyes and lips count `emphasis` times."""
    groups = yaml.safe_load(Path(__file__).with_name("facial106.yaml").read_text())
    strong = ("eye", "lips")
    return np.concatenate([
        np.full(len(idx), emphasis if any(s in name for s in strong) else 1.0, np.float32)
        for name, idx in groups.items()
    ])
