"""Training configuration: `models/<id>/train.yaml` and the clips it names (`models/clips.yaml`),
validated strictly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mpkit.configfile import load_yaml
from mpkit.errors import MpkitError
from mpkit.media.assets import catalog

FrameRange = tuple[int, int]  # [start, stop): frame numbers of the video, stop excluded


def _known_media(name: str) -> str:
    if name not in catalog()[1] and not Path(name).is_file():
        raise ValueError(f"unknown asset {name!r}: name one of `mpkit assets list` (or register "
                         "it in python_tools/mpkit/media/assets.yaml), or give a file path")
    return name


class ClipSpec(BaseModel):
    """A talking-head video: frame ranges to train on and frame ranges kept for evaluation."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    asset: str  # a registered asset name, or a path
    identity: str  # the person in it (held-out identities never appear in training)
    train: list[FrameRange] = []
    held_out: list[FrameRange] = []

    _asset = field_validator("asset")(_known_media)

    @model_validator(mode="after")
    def _disjoint(self) -> ClipSpec:
        ranges = sorted([(r, "train") for r in self.train]
                        + [(r, "held_out") for r in self.held_out])
        for r, kind in ranges:
            if not 0 <= r[0] < r[1]:
                raise ValueError(f"clip {self.name}: {kind} range {list(r)} is empty or negative: "
                                 "write [start, stop) with 0 <= start < stop")
        for (a, ka), (b, kb) in zip(ranges, ranges[1:]):
            if b[0] < a[1]:
                raise ValueError(f"clip {self.name}: {ka} {list(a)} and {kb} {list(b)} overlap: "
                                 "make the ranges disjoint ([start, stop), stop excluded)")
        return self

    def check_length(self, frames: int) -> None:
        """Raises MpkitError when a range reaches past the video's `frames` frames."""
        for kind, ranges in (("train", self.train), ("held_out", self.held_out)):
            for r in ranges:
                if r[1] > frames:
                    raise MpkitError(f"clip {self.name}: {kind} range {list(r)} ends past the "
                                     f"video ({self.asset} has {frames} frames): end it at "
                                     f"{frames} or less")


class PhotoSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    asset: str
    identity: str

    _asset = field_validator("asset")(_known_media)


class HeldOut(BaseModel):
    """What is kept out of training entirely, for evaluation on clips and people never seen."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    clips: list[str] = []
    photos: list[str] = []
    identities: list[str] = []


class DataSpec(BaseModel):
    """The training data: clips with per-clip ranges, stills for synthetic motion, held-out
    clips, photos and identities."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    clips: list[ClipSpec]
    photos: list[PhotoSpec] = []
    held_out: HeldOut = HeldOut()

    @model_validator(mode="after")
    def _consistent(self) -> DataSpec:
        names = [c.name for c in self.clips]
        if len(set(names)) < len(names):
            raise ValueError(f"clip names repeat ({', '.join(names)}): give each clip its own")
        for name in self.held_out.clips:
            if name not in names:
                raise ValueError(f"held_out.clips names {name!r}, which is not a clip: "
                                 f"known clips: {', '.join(names)}")
        for c in self.clips:
            whole = c.name in self.held_out.clips
            if whole and c.train:
                raise ValueError(f"clip {c.name} is held out entirely but has train ranges: "
                                 "remove them, or take it off held_out.clips")
            if not whole and not c.train:
                raise ValueError(f"clip {c.name} has no train range: give it one, or list it "
                                 "under held_out.clips")
        photos = [p.asset for p in self.photos]
        for name in self.held_out.photos:
            if name not in photos:
                raise ValueError(f"held_out.photos names {name!r}, which is not in photos")
        for who in self.held_out.identities:
            trained = ([f"clip {c.name}" for c in self.training_clips() if c.identity == who]
                       + [f"photo {p.asset}" for p in self.training_photos()
                          if p.identity == who])
            if trained:
                raise ValueError(f"identity {who} is held out but {', '.join(trained)} trains "
                                 "on it: hold those out too, or take it off held_out.identities")
        return self

    def training_clips(self) -> list[ClipSpec]:
        return [c for c in self.clips if c.name not in self.held_out.clips]

    def training_photos(self) -> list[PhotoSpec]:
        return [p for p in self.photos if p.asset not in self.held_out.photos]


class LossWeights(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    l1: float = 1.0
    ssim: float = 1.0
    equivariance: float = 10.0
    facial: float = 10.0
    masks: float = 1.0
    # Losses that see faces (train/losses.py); 0 leaves them out, so older recipes are unchanged.
    face_perceptual: float = 0.0  # SSD-MobileNetV1 face-detector features (face-api.js)
    identity: float = 0.0  # HSE FaceRes embedding, not dlib's network that `mpkit eval` scores
    colour: float = 0.0  # face YCbCr mean and spread vs the source
    mouth: float = 0.0  # L1 on a crop around the driving frame's lips, upsampled


class Perceptual(BaseModel):
    """VGG-19 perceptual loss; needs ImageNet weights the user supplies (none can be fetched
    here): a safetensors file with torchvision's keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    weights: str
    weight: float = 10.0


class Discriminator(BaseModel):
    """Multi-scale patch discriminator (LSGAN) with feature matching."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    weight: float = 1.0
    feature_matching: float = 10.0
    lr: float = 2e-4


class Phase(BaseModel):
    """Settings that differ while step < `until` (a run's earlier part, e.g. how a shipped
    checkpoint was actually trained before its recipe changed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    until: int = Field(gt=0)
    driving_background: float | None = Field(None, ge=0.0, le=1.0)
    constant_lr: bool = False


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    model: str
    seed: int = 0
    steps: int
    batch_size: int
    lr: float
    # Fine-tune: start from these weights (a safetensors checkpoint of this model, relative to
    # the train.yaml) with a fresh optimizer at step 0; a resumed run keeps its own weights.
    init: str | None = None
    # The data: `data` names a clips YAML (relative to the train.yaml; embedded once loaded), or,
    # for a quick run on your own clip, `videos` (each trained on but its last `holdout`
    # fraction) with `photos`.
    data: DataSpec | str | None = None
    videos: list[str] = []
    photos: list[str] = []
    photo_fraction: float = 0.3  # share of steps that use a still with synthetic motion
    color_jitter: bool = True
    # Share of samples whose synthesis gets the driving frame's pseudo background (the paper's
    # appearance augmentation); the rest get the source's, as at inference, so the network also
    # learns to move the background when the camera moves.
    driving_background: float = Field(1.0, ge=0.0, le=1.0)
    lr_final: float | None = None  # cosine decay from lr to this over the steps; None: constant
    phases: list[Phase] = []
    perceptual: Perceptual | None = None  # off unless weights are supplied
    discriminator: Discriminator | None = None  # off by default
    holdout: float = 0.2
    loss_weights: LossWeights = LossWeights()
    checkpoint_every: int = 100
    log_every: int = 10

    @model_validator(mode="after")
    def _one_data_source(self) -> TrainConfig:
        if (self.data is None) == (not self.videos):
            raise ValueError("give either `data` (a clips YAML) or `videos`, not both or neither")
        if self.data is not None and self.photos:
            raise ValueError("with `data`, list the photos in the clips YAML, not in `photos`")
        return self

    def data_spec(self, frame_count: Callable[[str], int]) -> DataSpec:
        """The clips YAML, or the `videos`/`photos` quick form as one (`frame_count(asset)` gives
        a video's length, to split off its tail)."""
        if isinstance(self.data, str):
            raise MpkitError(f"data {self.data!r} is not loaded: read the config with "
                             "load_train_config")
        if self.data is not None:
            return self.data
        clips = []
        for v in self.videos:
            n = frame_count(v)
            cut = min(n, max(2, int(n * (1 - self.holdout))))
            clips.append(ClipSpec(name=Path(v).name, asset=v, identity=Path(v).name,
                                  train=[(0, cut)], held_out=[(cut, n)] if cut < n else []))
        return DataSpec(clips=clips, photos=[PhotoSpec(asset=p, identity=p) for p in self.photos])

    def phase(self, step: int) -> Phase | None:
        return next((p for p in sorted(self.phases, key=lambda p: p.until) if step < p.until),
                    None)


def load_train_config(path: Path) -> TrainConfig:
    if not path.is_file():
        raise MpkitError(f"{path}: no such training config")
    cfg = load_yaml(TrainConfig, path)
    if isinstance(cfg.data, str):
        clips = path.parent / cfg.data
        if not clips.is_file():
            raise MpkitError(f"{path}: data: {clips} is no such file")
        cfg = cfg.model_copy(update={"data": load_yaml(DataSpec, clips)})
    if cfg.init is not None:
        init = (path.parent / cfg.init).resolve()
        if not init.is_file():
            raise MpkitError(f"{path}: init: {init} is no such file")
        cfg = cfg.model_copy(update={"init": str(init)})
    return cfg
