"""The pseudo-multiview pose bank: T affine motions of the keypoints, shipped with each model.

The multiview component sees the source warped to T poses. Those poses used to be T frames of
the driving clip (all of it, future frames included), which live camera driving cannot know.
Now view t moves every source keypoint (x, y) to A_t (x, y, 1): the same T motions in training
and inference, on the host and on the phone (`org.mpkit.core.PoseBank`), for every model (the
motions act on positions in the 256² crop, so they need no checkpoint). They are measured once
from real head motion: per training clip, the least-squares affine map from the first frame's
facial landmarks to each frame's; view 0 is the identity (the source's own pose), the others
are k-means centres of those maps. The bank is `models/<id>/pose_bank.json` (JSON, which the
phone reads with org.json), measured again with `mpkit models pose-bank ID`; every bundle
carries a copy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from mpkit.errors import MpkitError

BANK_FILE = "pose_bank.json"
FORMAT = "mpkit pose bank"
VERSION = 1
KMEANS_ITERATIONS = 50
IDENTITY = np.array([[1, 0, 0], [0, 1, 0]], np.float64)


@dataclass(frozen=True)
class PoseBank:
    affines: np.ndarray  # [T,2,3] float32: view t moves (x, y) to affines[t] @ (x, y, 1)
    measured_from: dict = field(default_factory=dict)

    @property
    def views(self) -> int:
        return len(self.affines)

    def apply(self, kp: torch.Tensor) -> torch.Tensor:
        """kp [B,K,2] → the T view keypoints [B*T,K,2] (each sample's T views together), in
        float32 as (a·x + b·y) + c, the order the Kotlin core uses."""
        a = torch.from_numpy(self.affines)[None, :, None]  # [1,T,1,2,3]
        x, y = kp[:, None, :, 0], kp[:, None, :, 1]  # [B,1,K]
        moved = [(a[..., r, 0] * x + a[..., r, 1] * y) + a[..., r, 2] for r in (0, 1)]
        return torch.stack(moved, dim=-1).reshape(-1, kp.shape[1], 2)

    def to_json(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "views": self.views,
                "affines": self.affines.tolist(), "measured_from": self.measured_from}


def fit_affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The least-squares affine map [2,3] taking points src [N,2] to dst [N,2] (float64)."""
    design = np.concatenate([src, np.ones((len(src), 1))], axis=1).astype(np.float64)
    solution, *_ = np.linalg.lstsq(design, dst.astype(np.float64), rcond=None)
    return solution.T


def measure(tracks: list[np.ndarray], views: int, measured_from: dict) -> PoseBank:
    """The bank from facial-landmark tracks (per clip [N,P,2], one crop per clip): identity, then
    the `views - 1` k-means centres (farthest-point start, fixed iterations) of the affine maps
    from each clip's first frame to its frames; the identity is a fixed centre."""
    maps = np.stack([fit_affine(track[0], frame).ravel() for track in tracks for frame in track])
    centres = [IDENTITY.ravel()]
    for _ in range(views - 1):
        gap = np.min([np.linalg.norm(maps - c, axis=1) for c in centres], axis=0)
        centres.append(maps[int(np.argmax(gap))])
    centres = np.stack(centres)
    for _ in range(KMEANS_ITERATIONS):
        nearest = np.argmin(np.linalg.norm(maps[:, None] - centres[None], axis=2), axis=1)
        for k in range(1, views):
            if (nearest == k).any():
                centres[k] = maps[nearest == k].mean(axis=0)
    order = 1 + np.argsort(np.linalg.norm(centres[1:] - centres[0], axis=1))
    affines = centres[[0, *order]].reshape(views, 2, 3).astype(np.float32)
    return PoseBank(affines, {**measured_from, "frames": len(maps)})


def bank_path(model_id: str) -> Path:
    """Where the model's bank is stored: models/<model_id>/pose_bank.json."""
    from mpkit.models.config import models_dir

    return models_dir() / model_id / BANK_FILE


def save(bank: PoseBank, path: Path) -> None:
    from mpkit.media.files import atomic_output

    data = bank.to_json()
    views = ",\n  ".join(json.dumps(a) for a in data.pop("affines"))  # one line per view
    text = json.dumps(data, indent=1)[:-2] + f',\n "affines": [\n  {views}\n ]\n}}\n'
    with atomic_output(path) as tmp:
        Path(tmp).write_text(text)


def parse(text: bytes | str, views: int) -> PoseBank:
    """The bank in `text` (its JSON), which must have `views` motions; ValueError says why
    not."""
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != FORMAT \
                or data.get("version") != VERSION:
            raise ValueError(f"not a {FORMAT} version {VERSION}")
        affines = np.asarray(data["affines"], np.float32)
        if affines.shape != (data["views"], 2, 3):
            raise ValueError(f"affines of shape {affines.shape}, not ({data['views']}, 2, 3)")
    except (UnicodeDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"malformed ({type(e).__name__}: {e})") from e
    if len(affines) != views:
        raise ValueError(f"{len(affines)} poses, the model has views: {views}")
    return PoseBank(affines, data.get("measured_from", {}))


def load(path: Path, views: int) -> PoseBank:
    """The bank at `path` (models/<id>/pose_bank.json), which must have `views` motions."""
    try:
        return parse(path.read_bytes(), views)
    except (OSError, ValueError) as e:
        raise MpkitError(f"{path}: unreadable pose bank: {e}; measure it again "
                         f"(mpkit models pose-bank {path.parent.name})") from e


def training_clips() -> list[tuple[str, int, int]]:
    """The training ranges of models/clips.yaml as (video, start, stop), the clips a model's
    bank is measured from."""
    from mpkit.configfile import load_yaml
    from mpkit.models.config import models_dir
    from mpkit.train.config import DataSpec

    spec = load_yaml(DataSpec, models_dir() / "clips.yaml")
    return [(c.asset, start, stop) for c in spec.training_clips() for start, stop in c.train]


def measure_for_model(model_id: str, clips: list[tuple[str, int, int]], write: bool = True
                      ) -> PoseBank:
    """Measures the bank from the frames [start, stop) of each clip (video, start, stop), e.g.
    `training_clips()`, cut like a driving clip (the crop of its first frame with a face;
    frames without one are left out), and writes it to models/<model_id>/ unless not `write`.
    The landmarks come from the training data's per-video cache."""
    from mpkit.media.assets import asset_path
    from mpkit.models.config import load_config
    from mpkit.pipeline.animator import facial_keypoints
    from mpkit.pipeline.crop import face_crop
    from mpkit.train.landmark_cache import clip_landmarks

    cfg = load_config(model_id)
    tracks = []
    for video, start, stop in clips:
        points = clip_landmarks(Path(video) if Path(video).is_file() else asset_path(video)).points
        faces = [p for p in points[start:stop] if not np.isnan(p[0, 0])]
        if len(faces) < 2:
            raise MpkitError(f"{video} frames [{start}, {stop}): {len(faces)} with a face; the "
                             "pose bank needs at least 2")
        crop = face_crop(faces[0])
        tracks.append(np.stack([facial_keypoints(p, crop, cfg.resolution) for p in faces]))
    bank = measure(tracks, cfg.views, {
        "clips": [list(c) for c in clips], "reference": "each clip's first frame with a face",
        "landmarks": "the 106 facial keypoints in the crop of that frame"})
    if write:
        save(bank, bank_path(model_id))
    return bank


def difference(model_id: str, measured: PoseBank) -> str | None:
    """Why models/<model_id>/pose_bank.json is not `measured` (None when it is)."""
    path = bank_path(model_id)
    try:
        stored = json.loads(path.read_text())
    except FileNotFoundError:
        return f"{path} does not exist"
    except (OSError, ValueError) as e:
        return f"{path} is unreadable ({e})"
    wanted = json.loads(json.dumps(measured.to_json()))  # tuples as lists, as stored
    if stored == wanted:
        return None
    keys = sorted(k for k in {*stored, *wanted} if stored.get(k) != wanted.get(k))
    why = f"{path} differs from the measured bank in {', '.join(keys)}"
    try:
        gap = np.abs(np.asarray(stored["affines"], np.float64) - measured.affines).max()
        return f"{why} (largest affine difference {gap:.3g})"
    except (KeyError, TypeError, ValueError):
        return why
