"""Training data declared as data (a clips YAML such as `models/clips.yaml`): the training frames
of real talking-head clips as crops, facial keypoints, masks and pseudo backgrounds, computed once
and cached; stills for synthetic motion; and the sampler that draws training pairs from them.
Held-out frame ranges, clips and photos are never loaded, so no sample can come from them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mpkit.errors import MpkitError
from mpkit.landmarks.face import FaceLandmarker, Segmenter
from mpkit.landmarks.facial import facial_indices, facial_mask, to_unit
from mpkit.media.assets import asset_path, cache_dir, sha256_file
from mpkit.media.files import atomic_output
from mpkit.media.image import read_image
from mpkit.media.video import read_frames, video_info
from mpkit.pipeline.crop import Crop, face_crop
from mpkit.pipeline.inpaint import PushPullInpainter, pseudo_background
from mpkit.train.augment import synthetic_motion
from mpkit.train.config import ClipSpec, DataSpec, TrainConfig
from mpkit.train.landmark_cache import clip_landmarks, landmarker_version

CACHE_VERSION = 2


@dataclass
class Clip:
    """A video's training frames (or the stills) prepared for training, indexed by row."""

    name: str
    frames: np.ndarray  # [N] int: each row's frame number in the video (stills: list index)
    images: np.ndarray  # [N,R,R,3] uint8 crops
    backgrounds: np.ndarray  # [N,R,R,3] uint8 pseudo backgrounds
    facial: np.ndarray  # [N,106,2] float32 in [-1,1]
    masks: np.ndarray  # [N,2,s,s] float32: foreground, facial-keypoint mask
    crop: Crop | None = None  # the one crop of a video's frames (stills: each their own)

    def __len__(self) -> int:
        return len(self.images)


@dataclass(frozen=True)
class ClipReport:
    """What the landmarker found in one declared clip."""

    name: str
    frames: int  # in the video
    declared: int  # frames in its train and held-out ranges (a whole held-out clip: all)
    no_face: list[int]  # declared frames without a face
    train: int  # training frames with a face (0 for a held-out clip)


@dataclass
class TrainingData:
    spec: DataSpec
    clips: list[Clip]
    photos: Clip | None
    reports: list[ClipReport]


def media_path(name: str) -> Path:
    """A registered asset name, or a path."""
    return Path(name) if Path(name).is_file() else asset_path(name)


def _frames(ranges: list[tuple[int, int]]) -> np.ndarray:
    return np.array([i for a, b in ranges for i in range(a, b)], dtype=np.int64)


def load_training_data(cfg: TrainConfig, resolution: int, mask_size: int) -> TrainingData:
    """Checks every declared clip (ranges within the video, a face on at least 2 frames), then
    prepares the training frames of the training clips and the training photos."""
    spec = cfg.data_spec(lambda name: video_info(media_path(name)).frames)
    reports, clips = [], []
    for c in spec.clips:
        video = media_path(c.asset)
        n = video_info(video).frames
        c.check_length(n)
        found = clip_landmarks(video).found
        whole = c.name in spec.held_out.clips and not c.held_out
        declared = np.arange(n) if whole else _frames(c.train + c.held_out)
        usable, missing = declared[found[declared]], declared[~found[declared]]
        if len(usable) < 2:
            raise MpkitError(f"{video}: {len(usable)} usable frames; {len(missing)} skipped "
                             f"(no face), e.g. frame {missing[:1].tolist()}: need at least 2 "
                             "frames with a face; drop the clip or pick ranges with a face")
        train = _frames(c.train)
        reports.append(ClipReport(c.name, n, len(declared), missing.tolist(),
                                  int(found[train].sum())))
    for c in spec.training_clips():
        clips.append(prepare_clip(c, media_path(c.asset), resolution, mask_size))
    stills = [media_path(p.asset) for p in spec.training_photos()]
    photos = prepare_photos(stills, resolution, mask_size) if stills else None
    return TrainingData(spec, clips, photos, reports)


def prepare_clip(spec: ClipSpec, video: Path, resolution: int, mask_size: int) -> Clip:
    """The clip's training frames with a face, all cut with one crop (around its median face)."""
    points = clip_landmarks(video).points
    train = _frames(spec.train)
    frames = train[~np.isnan(points[train, 0, 0])]
    if len(frames) < 2:
        raise MpkitError(f"clip {spec.name}: {len(frames)} of its {len(train)} train frames "
                         "have a face; need at least 2: move its train ranges onto the face")
    prep = _FramePrep(resolution, mask_size)
    key = hashlib.sha256(":".join([
        sha256_file(video), landmarker_version(), hashlib.sha256(frames.tobytes()).hexdigest(),
        str(resolution), str(mask_size), type(prep.inpainter).__name__, str(CACHE_VERSION),
    ]).encode()).hexdigest()[:16]
    cached = cache_dir() / "train" / f"{video.stem}-{key}.npz"
    if cached.is_file():
        with np.load(cached) as z:
            return Clip(spec.name, z["frames"], z["images"], z["backgrounds"], z["facial"],
                        z["masks"], Crop(*map(float, z["crop"])))
    crop = face_crop(np.nanmedian(points[frames], axis=0))
    wanted, rows = set(frames.tolist()), []
    for i, frame in enumerate(read_frames(video, limit=int(frames[-1]) + 1)):
        if i in wanted:
            rows.append(prep(frame, points[i], crop))
    clip = Clip(spec.name, frames, *(np.stack(col) for col in zip(*rows)), crop=crop)
    with atomic_output(cached) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, frames=clip.frames, images=clip.images, backgrounds=clip.backgrounds,
                     facial=clip.facial, masks=clip.masks,
                     crop=np.array([crop.x0, crop.y0, crop.side]))
    return clip


class _FramePrep:
    """One frame → (crop, pseudo background, facial keypoints, masks)."""

    def __init__(self, resolution: int, mask_size: int):
        self.resolution, self.mask_size = resolution, mask_size
        self.landmarker, self.segmenter = FaceLandmarker(), Segmenter()
        self.inpainter = PushPullInpainter()

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
    return Clip("photos", np.arange(len(paths)), *(np.stack(col) for col in zip(*rows)))


@dataclass(frozen=True)
class Draw:
    """One batch's rows of a clip (or of the stills): source rows, then driving rows (for the
    stills, the driving frames are synthetic motion of the sources)."""

    clip: Clip
    rows: tuple[np.ndarray, ...]


class Sampler:
    """Draws (source, driving) batches: a self-reenactment pair from one training clip, or (a
    `photo_fraction` of draws) a still with synthetic motion. Every rank of a distributed run
    draws the same global batch from the same generator."""

    def __init__(self, data: TrainingData, batch_size: int, photo_fraction: float,
                 generator: torch.Generator):
        if not data.clips:
            raise MpkitError("the training data has no training clip: give one a train range")
        self.data, self.batch_size = data, batch_size
        self.photo_fraction, self.generator = photo_fraction, generator

    def _pick(self, n: int) -> np.ndarray:
        return torch.randint(n, (self.batch_size,), generator=self.generator).numpy()

    def draw(self) -> Draw:
        g, photos = self.generator, self.data.photos
        if photos is not None and float(torch.rand(1, generator=g)) < self.photo_fraction:
            return Draw(photos, (self._pick(len(photos)),))
        clip = self.data.clips[int(torch.randint(len(self.data.clips), (1,), generator=g))]
        return Draw(clip, (self._pick(len(clip)), self._pick(len(clip))))

    def __call__(self) -> list[dict[str, torch.Tensor]]:
        d = self.draw()
        if d.clip is self.data.photos:
            src = to_batch(d.clip, d.rows[0])
            return [src, synthetic_motion(src, self.generator)]
        return [to_batch(d.clip, rows) for rows in d.rows]


def to_batch(clip: Clip, index: np.ndarray) -> dict[str, torch.Tensor]:
    img = lambda a: torch.from_numpy(a[index]).permute(0, 3, 1, 2).float() / 255  # noqa: E731
    return {"image": img(clip.images), "background": img(clip.backgrounds),
            "facial": torch.from_numpy(clip.facial[index]),
            "masks": torch.from_numpy(clip.masks[index])}
