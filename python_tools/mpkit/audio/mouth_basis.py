"""A model's mouth basis: how its mixed keypoints move per unit of mouth state, measured on real
talking frames (the viseme table's clip) through the model's own keypoint network.

Each frame is first brought to a rest frame's head pose (a similarity on the points of the face
that do not move with the mouth), so what is left of its keypoints' motion is expression; the
basis is the least-squares fit of that motion on the frame's mouth state."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from mpkit.audio.visemes import VisemeTable, clip_frames, measure_shapes
from mpkit.errors import MpkitError
from mpkit.metrics.landmarks import mouth_shape, similarity_transform
from mpkit.models.portrait import PortraitModel
from mpkit.pipeline.animator import facial_keypoints, to_tensor
from mpkit.pipeline.crop import face_crop

# face-mesh vertices that stay put when the mouth moves: eye corners, nose bridge and tip,
# forehead and upper face oval
STABLE_POINTS = [33, 133, 263, 362, 6, 168, 197, 195, 4, 1, 10, 338, 109, 67, 297, 103]


@dataclass(frozen=True)
class MouthBasis:
    basis: np.ndarray  # [2, K*2]: keypoint displacement per unit of (opening, width)
    frames: int  # frames fitted
    explained: float  # share of the keypoint motion's variance the mouth state explains


@torch.no_grad()
def measure(model: PortraitModel, table: VisemeTable, count: int = 400) -> MouthBasis:
    """The basis of `model` from `count` frames spread over the table clip's training frames."""
    if not model.cfg.keypoints.use_facial:
        raise MpkitError(f"model {model.cfg.id} uses neural keypoints only; audio driving moves "
                         "the mouth through the facial keypoints, so it needs a mixed-keypoint model")
    frames, points = clip_frames(table, count)
    states = np.stack([mouth_shape(p) for p in points])
    ref = int(np.argmin(np.abs(states - measure_shapes(table, states).rest).sum(1)))
    crop, r = face_crop(points[ref]), model.cfg.resolution
    components = model.components()
    kps = []
    for frame, p in zip(frames, points):
        m = similarity_transform(p[STABLE_POINTS], points[ref][STABLE_POINTS])
        h, w = frame.shape[:2]
        steady = cv2.warpAffine(frame, m, (w, h), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
        moved = p[:, :2] @ m[:, :2].T + m[:, 2]
        kp, _ = components["keypoints"](to_tensor(crop.apply(steady, r)),
                                        torch.from_numpy(facial_keypoints(moved, crop, r))[None])
        kps.append(kp.flatten().numpy())
    motion = np.stack(kps) - kps[ref]
    x = np.concatenate([states - states[ref], np.ones((len(states), 1))], 1)
    coef, *_ = np.linalg.lstsq(x, motion, rcond=None)
    residual = motion - x @ coef
    centred = motion - motion.mean(0)
    explained = 1.0 - float((residual**2).sum() / max((centred**2).sum(), 1e-12))
    return MouthBasis(coef[:2].astype(np.float32), len(frames), explained)
