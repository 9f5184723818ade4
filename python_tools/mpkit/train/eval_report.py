"""Evaluation outputs: numerics (YAML), per-frame metric plots and side-by-side videos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import yaml

from mpkit.media.files import atomic_output
from mpkit.media.image import write_image
from mpkit.media.video import write_video
from mpkit.train.evaluate import MethodRun


def labelled(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.putText(out, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 0), 1, cv2.LINE_AA)
    return out


def row(reference: list[np.ndarray], label: str, runs: dict[str, MethodRun], i: int
        ) -> np.ndarray:
    """Frame `i`: the reference, then each method's output, labelled."""
    return np.concatenate([labelled(reference[i], label)] + [labelled(r.frames[i], name)
                                                             for name, r in runs.items()], axis=1)


def side_by_side(path: Path, reference: list[np.ndarray], label: str,
                 runs: dict[str, MethodRun], fps: float) -> None:
    write_video(path, (row(reference, label, runs, i) for i in range(len(reference))), fps)


def still(path: Path, rows: list[np.ndarray]) -> None:
    """One image for the model card: side-by-side rows (`row`) stacked."""
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    write_image(path, np.concatenate(rows, axis=0))


def plot(path: Path, runs: dict[str, MethodRun], metrics: list[str], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in metrics if all(m in run.per_frame for run in runs.values())]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for name, run in runs.items():
            ax.plot(run.per_frame[metric], label=name)
        ax.set_xlabel("frame")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
    axes[0][0].legend()
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp)
    plt.close(fig)


def write_numerics(path: Path, numerics: dict) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(yaml.safe_dump(numerics, sort_keys=False, allow_unicode=True))
