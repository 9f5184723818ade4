"""What `mpkit eval` evaluates: cases taken from a clips YAML's held-out frames, clips and people
(or, for a quick look at one's own clip, its tail), each with the exact frame numbers used."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mpkit.errors import MediaError, UsageError
from mpkit.media.image import read_image
from mpkit.media.video import read_frames, video_info
from mpkit.train.config import DataSpec
from mpkit.train.data import media_path

SEEN = "held-out frames of people in training"
UNSEEN = "people never in training"
UNKNOWN = "given on the command line"


@dataclass(frozen=True)
class Clip:
    """Frames of one video for a case: the anchor (relative motion is measured from it; the
    source in self-reenactment) and the driven frames, with their frame numbers."""

    name: str
    anchor: np.ndarray
    frames: list[np.ndarray]
    numbers: list[int]

    @property
    def consecutive(self) -> list[bool]:
        """Per driven frame: whether it directly follows the previous driven frame."""
        return [False] + [b == a + 1 for a, b in zip(self.numbers, self.numbers[1:])]


@dataclass(frozen=True)
class ClipCase:
    """A video, the frame the case starts from, and the frames it drives with."""

    name: str
    path: Path
    people: str  # SEEN, UNSEEN or UNKNOWN
    anchor: int
    stop: int  # the held-out range is [anchor, stop)
    driven: list[int]  # frames of (anchor, stop) driven with

    def describe(self) -> str:
        return f"{self.name} [{self.anchor}, {self.stop})"

    def load(self) -> Clip:
        wanted = {self.anchor, *self.driven}
        found = {}
        try:
            for i, frame in enumerate(read_frames(self.path, limit=max(wanted) + 1)):
                if i in wanted:
                    found[i] = frame.copy()
        except MediaError as e:
            raise MediaError(f"evaluation case {self.describe()}: {e}") from e
        if len(found) < len(wanted):
            raise MediaError(f"{self.path}: has {len(found)} of the frames {self.describe()} "
                             "needs; shorten the range")
        return Clip(self.describe(), found[self.anchor], [found[i] for i in self.driven],
                    self.driven)


@dataclass(frozen=True)
class PhotoCase:
    name: str
    path: Path
    people: str

    def load(self) -> np.ndarray:
        return read_image(self.path)


@dataclass(frozen=True)
class Plan:
    clips: list[ClipCase]  # self-reenactment, each
    photos: list[PhotoCase]  # cross-reenactment: each photo driven by each of `drivers`
    drivers: list[ClipCase]


def sample(start: int, stop: int, frames: int, run_length: int) -> list[int]:
    """`frames` frame numbers from [start, stop), in runs of `run_length` consecutive frames
    spread evenly (consecutive frames measure flicker; spread runs cover the range)."""
    if stop - start <= frames:
        return list(range(start, stop))
    run_length = min(run_length, frames)
    runs = frames // run_length
    starts = np.linspace(start, stop - run_length, runs).round().astype(int)
    out = sorted({int(s) + k for s in starts for k in range(run_length)})
    return out[:frames]


def from_data(data: DataSpec, frames: int, run_length: int = 8) -> Plan:
    """Self-reenactment on every held-out range (a wholly held-out clip: all of it), its first
    frame the source; cross-reenactment of every held-out photo driven by each of them."""
    held_people = set(data.held_out.identities)
    clips = []
    for spec in data.clips:
        ranges = spec.held_out
        if spec.name in data.held_out.clips:
            ranges = ranges or [(0, video_info(media_path(spec.asset)).frames)]
        people = UNSEEN if spec.identity in held_people else SEEN
        for a, b in ranges:
            if b - a < 2:
                raise UsageError(f"clip {spec.name}: held-out range [{a}, {b}) has fewer than 2 "
                                 "frames (a source and a driving frame); widen it")
            clips.append(ClipCase(spec.name, media_path(spec.asset), people, a, b,
                                  sample(a + 1, b, frames, run_length)))
    if not clips:
        raise UsageError("the clips YAML holds nothing out: give a clip held_out ranges, or "
                         "list one under held_out.clips")
    identity = {p.asset: p.identity for p in data.photos}
    photos = [PhotoCase(Path(name).stem, media_path(name),
                        UNSEEN if identity.get(name) in held_people else SEEN)
              for name in data.held_out.photos]
    return Plan(clips, photos, clips)


def from_files(videos: list[Path], photos: list[Path], holdout: float) -> Plan:
    """Each video's tail (`holdout` of it) driving its first frame; photos driven by the first
    video's tail."""
    clips = []
    for video in videos:
        n = video_info(video).frames
        if n < 2:
            raise MediaError(f"{video}: {n} frame(s); evaluation needs at least 2 (a source "
                             "frame and a driving frame)")
        cut = min(n - 1, max(1, int(n * (1 - holdout))))
        clips.append(ClipCase(video.stem, video, UNKNOWN, 0, n, list(range(cut, n))))
    return Plan(clips, [PhotoCase(p.stem, p, UNKNOWN) for p in photos], clips[:1])


def for_model(model_id: str, data: Path | None, videos: list[Path], photos: list[Path],
              holdout: float, frames: int) -> tuple[Plan, str]:
    """The plan `mpkit eval` runs and where it came from: `videos`/`photos` given, or a clips
    YAML (`data`, by default the one the model's train.yaml names)."""
    from mpkit.configfile import load_yaml
    from mpkit.models.config import models_dir
    from mpkit.train.config import load_train_config

    if videos:
        if data is not None:
            raise UsageError("give --data or --video/--photo, not both")
        return from_files(videos, photos, holdout), "command line"
    if photos:
        raise UsageError("--photo needs a --video to drive it (or use --data)")
    if data is None:
        recipe = models_dir() / model_id / "train.yaml"
        if not recipe.is_file():
            raise UsageError(f"{model_id} has no train.yaml naming its data: give --data "
                             "CLIPS.yaml or --video")
        spec = load_train_config(recipe).data
        if not isinstance(spec, DataSpec):
            raise UsageError(f"{recipe} trains on `videos`, not a clips YAML: give --data "
                             "CLIPS.yaml or --video")
        return from_data(spec, frames), f"the data of models/{model_id}/train.yaml"
    if not data.is_file():
        raise UsageError(f"--data {data}: no such file")
    return from_data(load_yaml(DataSpec, data), frames), str(data)


def trained_on(train_config: dict) -> tuple[dict[Path, list[tuple[int, int]]], set[Path]]:
    """From a checkpoint's recorded training config: the frame ranges it trained on per video
    file, and the photo files it trained on."""
    from mpkit.train.config import TrainConfig

    spec = TrainConfig(**train_config).data_spec(
        lambda asset: video_info(media_path(asset)).frames)
    videos: dict[Path, list[tuple[int, int]]] = {}
    for clip in spec.training_clips():
        videos.setdefault(media_path(clip.asset).resolve(), []).extend(clip.train)
    return videos, {media_path(p.asset).resolve() for p in spec.training_photos()}


def seen_in_training(train_config: dict, clip: ClipCase, photo: PhotoCase | None = None
                     ) -> bool:
    """Whether the checkpoint trained on any frame the case uses (or on its photo)."""
    videos, photos = trained_on(train_config)
    used = [clip.anchor, *clip.driven]
    ranges = videos.get(clip.path.resolve(), [])
    return (any(a <= i < b for i in used for a, b in ranges)
            or (photo is not None and photo.path.resolve() in photos))
