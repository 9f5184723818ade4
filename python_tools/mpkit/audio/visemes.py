"""Mouth-state targets for audio driving from phone alignments (`models/visemes.yaml`).

A phone maps to a viseme; a viseme's mouth state [opening, width] is measured from real talking
frames (the quantiles the table names, over a training clip's face meshes); a phone alignment
becomes one target per video frame, relative to the mouth at rest and blurred over neighbouring
phones (coarticulation)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mpkit.configfile import load_yaml
from mpkit.errors import MediaError, MpkitError
from mpkit.metrics.landmarks import mouth_shape
from mpkit.models.config import models_dir

MAX_ALIGNMENT_BYTES = 8 << 20


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Quantiles(_Strict):
    opening: float = Field(ge=0, le=1)
    width: float = Field(ge=0, le=1)


class Viseme(Quantiles):
    phones: list[str] = Field(min_length=1)


class MeasuredFrom(_Strict):
    clip: str  # a clip of models/clips.yaml; only its training frames are read


class VisemeTable(_Strict):
    measured_from: MeasuredFrom
    rest: Quantiles
    smoothing_ms: float = Field(ge=0)
    visemes: dict[str, Viseme]

    @model_validator(mode="after")
    def _each_phone_once(self) -> VisemeTable:
        seen: dict[str, str] = {}
        for name, viseme in self.visemes.items():
            for phone in viseme.phones:
                if phone in seen:
                    raise ValueError(f"phone {phone} is in visemes {seen[phone]} and {name}")
                seen[phone] = name
        return self

    def viseme_of(self, phone: str, where: str) -> str:
        for name, viseme in self.visemes.items():
            if phone in viseme.phones:
                return name
        raise MpkitError(f"{where}: phone {phone!r} is in no viseme of models/visemes.yaml; add it "
                         "to the viseme its mouth shape belongs to")


def load_table(path: Path | None = None) -> VisemeTable:
    return load_yaml(VisemeTable, path or models_dir() / "visemes.yaml")


@dataclass(frozen=True)
class MouthShapes:
    """Measured mouth states: the rest mouth and each viseme's, [opening, width]."""

    rest: np.ndarray
    visemes: dict[str, np.ndarray]
    frames: int  # the talking frames they were measured on


def measure_shapes(table: VisemeTable, states: np.ndarray) -> MouthShapes:
    """The table's quantiles read off `states` [N, 2], the mouth states of real talking frames."""
    if len(states) < 100:
        raise MpkitError(f"{len(states)} talking frames with a face; measuring viseme shapes "
                         "needs at least 100")

    def at(q: Quantiles) -> np.ndarray:
        return np.array([np.quantile(states[:, 0], q.opening),
                         np.quantile(states[:, 1], q.width)], np.float32)

    return MouthShapes(at(table.rest), {n: at(v) for n, v in table.visemes.items()}, len(states))


def _training_points(table: VisemeTable) -> tuple[Path, list[int], np.ndarray]:
    """The table clip's video, its training frames with a face, and their face meshes."""
    from mpkit.media.assets import asset_path
    from mpkit.train.config import DataSpec
    from mpkit.train.landmark_cache import clip_landmarks

    spec = load_yaml(DataSpec, models_dir() / "clips.yaml")
    clips = {c.name: c for c in spec.clips}
    name = table.measured_from.clip
    if name not in clips or not clips[name].train:
        raise MpkitError(f"models/visemes.yaml: measured_from clip {name!r} is not a clip with "
                         f"training frames in models/clips.yaml ({', '.join(clips)})")
    clip = clips[name]
    video = Path(clip.asset) if Path(clip.asset).is_file() else asset_path(clip.asset)
    points = clip_landmarks(video).points
    rows = [i for start, stop in clip.train for i in range(start, min(stop, len(points)))
            if not np.isnan(points[i, 0, 0])]
    return video, rows, points[rows]


def clip_mouth_states(table: VisemeTable) -> np.ndarray:
    """[N, 2] mouth states of the training frames with a face of the table's clip."""
    _, _, points = _training_points(table)
    return np.stack([mouth_shape(p) for p in points]).astype(np.float32)


def clip_frames(table: VisemeTable, count: int) -> tuple[list[np.ndarray], np.ndarray]:
    """`count` of the table clip's training frames with a face, spread evenly: (RGB frames,
    their face meshes [count, 468, 3])."""
    from mpkit.media.video import read_frames

    video, rows, points = _training_points(table)
    pick = np.unique(np.linspace(0, len(rows) - 1, min(count, len(rows))).round().astype(int))
    wanted = {rows[i]: i for i in pick}
    frames = [f for i, f in enumerate(read_frames(video, limit=rows[pick[-1]] + 1))
              if i in wanted]
    return frames, points[pick]


@dataclass(frozen=True)
class Phone:
    start: float  # seconds
    end: float
    phone: str


def read_alignment(path: Path) -> list[Phone]:
    """The phones of a pocketsphinx alignment (`*.phone.json`: an utterance of words of phones,
    each with begin `b` and duration `d` in seconds), in time order."""
    try:
        if path.stat().st_size > MAX_ALIGNMENT_BYTES:
            raise MediaError(f"{path}: larger than {MAX_ALIGNMENT_BYTES >> 20} MB; not an alignment")
        utterance = json.loads(path.read_text())
        phones = [Phone(float(p["b"]), float(p["b"]) + float(p["d"]), str(p["t"]))
                  for word in utterance["w"] for p in word["w"]]
    except OSError as e:
        raise MediaError(f"{path}: cannot read the alignment: {e}") from e
    except (ValueError, KeyError, TypeError) as e:
        raise MediaError(f"{path}: not a pocketsphinx phone alignment (an utterance with words "
                         f"'w' of phones 'w' with 'b', 'd', 't'): {e!r}") from e
    for a, b in pairwise(phones):
        if b.start < a.start - 1e-6:
            raise MediaError(f"{path}: phone {b.phone} at {b.start:.3f} s starts before "
                             f"{a.phone} at {a.start:.3f} s; the alignment is out of order")
    if not phones or any(p.end < p.start for p in phones):
        raise MediaError(f"{path}: no phones, or a phone with a negative duration")
    return phones


def frame_targets(table: VisemeTable, shapes: MouthShapes, phones: list[Phone], fps: float,
                  frames: int, where: str = "alignment") -> np.ndarray:
    """[frames, 2] mouth-state targets relative to rest at video frame times i / fps: each
    phone's viseme shape over its span (rest outside every phone), blurred by the table's
    coarticulation sigma. Sampled at 1 ms before blurring."""
    step = 1e-3
    grid = np.arange(int(np.ceil(frames / fps / step)) + 1) * step
    track = np.zeros((len(grid), 2), np.float32)
    for p in phones:
        inside = (grid >= p.start) & (grid < p.end)
        track[inside] = shapes.visemes[table.viseme_of(p.phone, where)] - shapes.rest
    sigma = table.smoothing_ms * 1e-3 / step
    if sigma > 0:
        radius = int(np.ceil(3 * sigma))
        kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
        kernel /= kernel.sum()
        padded = np.pad(track, ((radius, radius), (0, 0)), mode="edge")
        track = np.stack([np.convolve(padded[:, k], kernel, mode="valid") for k in range(2)], 1)
    times = np.arange(frames) / fps
    return np.stack([np.interp(times, grid, track[:, k]) for k in range(2)], 1).astype(np.float32)
