"""Training configuration: `models/<id>/train.yaml`, validated strictly."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from mpkit.configfile import load_yaml
from mpkit.errors import MpkitError


class LossWeights(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    l1: float = 1.0
    ssim: float = 1.0
    equivariance: float = 10.0
    facial: float = 10.0
    masks: float = 1.0


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
    videos: list[str]
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


    def phase(self, step: int) -> Phase | None:
        return next((p for p in sorted(self.phases, key=lambda p: p.until) if step < p.until),
                    None)


def load_train_config(path: Path) -> TrainConfig:
    if not path.is_file():
        raise MpkitError(f"{path}: no such training config")
    return load_yaml(TrainConfig, path)
