"""Model configurations: `models/<id>/model.yaml`, validated strictly (a typo'd key is an error)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from mpkit.configfile import load_yaml
from mpkit.datadir import data_dir
from mpkit.errors import UnknownNameError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KeypointConfig(_Strict):
    input_size: int = Field(128, description="the driving frame is resized to this side")
    channels: list[int] = Field(description="conv widths, each stage halves the resolution")
    mixer_hidden: int = Field(description="hidden width of the neural+facial keypoint MLP")
    use_facial: bool = Field(True, description="False: neural keypoints only (ablation)")


class DenseMotionConfig(_Strict):
    size: int = Field(64, description="resolution the motion is estimated at")
    block_expansion: int
    max_features: int
    num_blocks: int
    kp_variance: float = 0.01
    occlusion_sizes: list[int] = Field(description="resolutions of the occlusion masks, low→high")


class SynthesisConfig(_Strict):
    block_expansion: int
    max_features: int
    num_down_blocks: int
    num_bottleneck_blocks: int


class WarpConfig(_Strict):
    padding_mode: str = Field("border", pattern="^(zeros|border)$")
    align_corners: bool = True


class ModelConfig(_Strict):
    id: str
    description: str
    paper_gflops: float | None = Field(None, description="the paper's per-frame figure (MACs)")
    paper_params_m: float | None = None
    resolution: int = 256
    num_tps: int = 10
    points_per_tps: int = 5
    facial_points: int = 106
    views: int = Field(4, description="pseudo-multiview poses (T)")
    keypoints: KeypointConfig
    dense_motion: DenseMotionConfig
    synthesis: SynthesisConfig
    warp: WarpConfig = WarpConfig()

    @property
    def num_kp(self) -> int:
        return self.num_tps * self.points_per_tps


def models_dir() -> Path:
    """The `models/` data folder (override with MPKIT_MODELS_DIR, or MPKIT_DATA_DIR for all)."""
    if os.environ.get("MPKIT_MODELS_DIR"):
        return Path(os.environ["MPKIT_MODELS_DIR"])
    return data_dir() / "models"


def model_ids() -> list[str]:
    return sorted(p.parent.name for p in models_dir().glob("*/model.yaml"))


def load_config(model_id: str) -> ModelConfig:
    path = models_dir() / model_id / "model.yaml"
    if not path.is_file():
        raise UnknownNameError(f"unknown model {model_id!r}; known: {', '.join(model_ids())}")
    return load_yaml(ModelConfig, path)
