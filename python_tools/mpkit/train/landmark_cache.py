"""Face landmarks of every frame of a clip, computed once and cached.

The cache file is keyed by the video's sha256 and the landmarker's version (the tracking code's
version and the hashes of the detector and mesh models), so a changed clip or landmarker is
recomputed and an unchanged one never is. Long clips save their progress every `save_every`
frames (atomically), and a resumed computation starts after the last saved frame.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mpkit.errors import NoFaceError
from mpkit.landmarks.face import FULL_RANGE, SHORT_RANGE, FaceLandmarker, FaceTracker
from mpkit.landmarks.geometry import Roi
from mpkit.media.assets import cache_dir, catalog, sha256_file
from mpkit.media.files import atomic_output
from mpkit.media.video import read_frames

TRACKING_VERSION = 1  # bump when the tracking below changes what it finds
MESH_ASSET = "face_landmark.tflite"


@dataclass(frozen=True)
class ClipLandmarks:
    points: np.ndarray  # [N, 468, 3] float32 image pixels; NaN on frames without a face
    computed: int  # frames computed by this call (0: all read from the cache)

    @property
    def found(self) -> np.ndarray:
        """[N] bool: a face was found on the frame."""
        return ~np.isnan(self.points[:, 0, 0])


def landmarker_version() -> str:
    _, assets = catalog()
    models = [assets[name].sha256 for name in (SHORT_RANGE.asset, FULL_RANGE.asset, MESH_ASSET)]
    return hashlib.sha256(":".join([str(TRACKING_VERSION), *models]).encode()).hexdigest()[:16]


def cache_path(video: Path) -> Path:
    return cache_dir() / "landmarks" / f"{sha256_file(video)}-{landmarker_version()}.npz"


def clip_landmarks(video: Path, save_every: int = 250,
                   progress: Callable[[int], None] = lambda frame: None) -> ClipLandmarks:
    """Every frame's landmarks, tracked frame to frame (re-detected when the mesh loses the
    face); from the cache when it has them. `progress(i)` is called after computing frame i."""
    final = cache_path(video)
    if final.is_file():
        with np.load(final) as z:
            return ClipLandmarks(z["points"], computed=0)
    partial = final.with_name(final.stem + ".partial.npz")
    tracker = FaceTracker(FaceLandmarker(), name=str(video))
    rows: list[np.ndarray] = []
    if partial.is_file():
        with np.load(partial) as z:
            rows, roi = list(z["points"]), z["roi"]
        tracker.roi = None if np.isnan(roi).any() else Roi(*map(float, roi))
    done = len(rows)
    for i, frame in enumerate(read_frames(video)):
        if i < done:
            continue
        tracker.index = i
        try:
            rows.append(tracker.update(frame).points.astype(np.float32))
        except NoFaceError:
            rows.append(np.full((468, 3), np.nan, np.float32))
            tracker.roi = None
        progress(i)
        if (i + 1) % save_every == 0:
            _save(partial, rows, tracker.roi)
    _save(final, rows, None)
    partial.unlink(missing_ok=True)
    return ClipLandmarks(np.stack(rows), computed=len(rows) - done)


def _save(path: Path, rows: list[np.ndarray], roi: Roi | None) -> None:
    state = np.full(4, np.nan) if roi is None else np.array([roi.cx, roi.cy, roi.size, roi.angle])
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, points=np.stack(rows), roi=state)
