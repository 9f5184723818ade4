"""Training data from the offline assets: per-frame crops, facial keypoints and masks of real
talking-head video, computed once and cached; self-reenactment pairs from the same clip."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mpkit.errors import MpkitError, NoFaceError
from mpkit.landmarks.face import FaceLandmarker, FaceTracker, Segmenter
from mpkit.landmarks.facial import facial_indices, facial_mask, to_unit
from mpkit.media.assets import cache_dir, sha256_file
from mpkit.media.files import atomic_output
from mpkit.media.image import read_image
from mpkit.media.video import read_frames
from mpkit.pipeline.crop import Crop, face_crop
from mpkit.pipeline.inpaint import OpenCVInpainter, pseudo_background

CACHE_VERSION = 1


@dataclass
class Clip:
    """One video's frames prepared for training (all arrays indexed by frame)."""

    name: str
    images: np.ndarray  # [N,R,R,3] uint8 crops
    backgrounds: np.ndarray  # [N,R,R,3] uint8 pseudo backgrounds
    facial: np.ndarray  # [N,106,2] float32 in [-1,1]
    masks: np.ndarray  # [N,2,s,s] float32: foreground, facial-keypoint mask

    def __len__(self) -> int:
        return len(self.images)


def prepare_clip(video: Path, resolution: int, mask_size: int) -> Clip:
    """Crops the clip with one crop from its first frame, and computes the per-frame inputs.
    Frames without a face are skipped; a clip with none raises, counting what was skipped."""
    key = hashlib.sha256(f"{sha256_file(video)}:{resolution}:{mask_size}:{CACHE_VERSION}"
                         .encode()).hexdigest()[:16]
    cached = cache_dir() / "train" / f"{video.stem}-{key}.npz"
    if cached.is_file():
        with np.load(cached) as z:
            return Clip(video.name, z["images"], z["backgrounds"], z["facial"], z["masks"])
    prep = _FramePrep(resolution, mask_size)
    tracker = FaceTracker(prep.landmarker, name=str(video))
    crop, rows, skipped = None, [], []
    for i, frame in enumerate(read_frames(video)):
        try:
            points = tracker.update(frame).points
        except NoFaceError:
            skipped.append(i)
            tracker.roi = None
            continue
        crop = crop or face_crop(points)
        rows.append(prep(frame, points, crop))
    if len(rows) < 2:
        raise MpkitError(f"{video}: {len(rows)} usable frames; {len(skipped)} skipped "
                         f"(no face), e.g. frame {skipped[:1]}: need at least 2 frames with a face")
    clip = Clip(video.name, *(np.stack(col) for col in zip(*rows)))
    with atomic_output(cached) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, images=clip.images, backgrounds=clip.backgrounds, facial=clip.facial,
                     masks=clip.masks)
    return clip


class _FramePrep:
    """One frame → (crop, pseudo background, facial keypoints, masks)."""

    def __init__(self, resolution: int, mask_size: int):
        self.resolution, self.mask_size = resolution, mask_size
        self.landmarker, self.segmenter = FaceLandmarker(), Segmenter()
        self.inpainter = OpenCVInpainter()

    def __call__(self, frame: np.ndarray, points: np.ndarray, crop: Crop):
        r, s = self.resolution, self.mask_size
        image = crop.apply(frame, r)
        fk = to_unit(crop.points_to_crop(points[facial_indices()], r), r).astype(np.float32)
        fg = self.segmenter.foreground(image)
        small = fg.reshape(s, r // s, s, -1).mean((1, 3))
        return (image, pseudo_background(image, fg, self.inpainter), fk,
                np.stack([small, facial_mask(fk, s)]).astype(np.float32))


def prepare_photos(paths: list[Path], resolution: int, mask_size: int) -> Clip:
    """Still face photos, each with its own crop (for synthetic-motion pairs)."""
    prep = _FramePrep(resolution, mask_size)
    rows = []
    for path in paths:
        image = read_image(path)
        points = prep.landmarker.landmarks(image, name=str(path)).points
        rows.append(prep(image, points, face_crop(points)))
    return Clip("photos", *(np.stack(col) for col in zip(*rows)))


def split(clip: Clip, holdout: float) -> tuple[range, range]:
    """Training frames first, held-out frames (never trained on) at the end of the clip."""
    cut = max(2, int(len(clip) * (1 - holdout)))
    return range(cut), range(cut, len(clip))


def to_batch(clip: Clip, index: np.ndarray) -> dict[str, torch.Tensor]:
    img = lambda a: torch.from_numpy(a[index]).permute(0, 3, 1, 2).float() / 255  # noqa: E731
    return {"image": img(clip.images), "background": img(clip.backgrounds),
            "facial": torch.from_numpy(clip.facial[index]),
            "masks": torch.from_numpy(clip.masks[index])}
