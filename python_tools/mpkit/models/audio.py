"""Audio driving: one video frame's log-mel window → mouth state → the model's mixed keypoints.

`AudioNet` predicts the mouth state [opening, width] relative to rest (speaker-independent, the
quantity `mouth_shape` measures on a face mesh). A model's `MouthBasis`, measured from real
talking frames through that model's own keypoint network, maps the mouth state to the
displacement of its mixed keypoints, so the frame stage is driven exactly as by a video whose
face only moves its mouth. Tensors stay 4-D for the GPU delegate."""

from __future__ import annotations

from pathlib import Path

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from mpkit.audio.features import FeatureSpec
from mpkit.configfile import load_yaml
from mpkit.models.config import ModelConfig, models_dir
from mpkit.models.portrait import Component, TensorSpec


class AudioNetConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    channels: list[int] = Field(min_length=1)
    hidden: int = Field(gt=0)


def load_net_config(path: Path | None = None) -> AudioNetConfig:
    return load_yaml(AudioNetConfig, path or models_dir() / "audio_net.yaml")


class AudioNet(nn.Module):
    """Log-mel window [B, mels, 1, context] → mouth state [B, 2]. The window holds only audio up
    to the features' stated look-ahead, so the network is causal by construction."""

    def __init__(self, cfg: AudioNetConfig, spec: FeatureSpec):
        super().__init__()
        # per-mel normalisation, set from the training audio before training
        self.register_buffer("feature_mean", torch.zeros(1, spec.mels, 1, 1))
        self.register_buffer("feature_std", torch.ones(1, spec.mels, 1, 1))
        layers, c = [], spec.mels
        for width in cfg.channels:
            layers += [nn.Conv2d(c, width, (1, 3), stride=(1, 2), padding=(0, 1)),
                       nn.ReLU(inplace=True)]
            c = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Conv2d(c, cfg.hidden, 1), nn.ReLU(inplace=True),
                                  nn.Conv2d(cfg.hidden, 2, 1))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = (mel - self.feature_mean) / self.feature_std
        x = self.features(x).mean(dim=(2, 3), keepdim=True)
        return self.head(x).flatten(1)


class MouthBasis(nn.Module):
    """Mouth state [B, 2] → mixed-keypoint displacement [B, K, 2], linear (measured per model)."""

    def __init__(self, num_kp: int):
        super().__init__()
        self.register_buffer("basis", torch.zeros(2, num_kp * 2))
        self.num_kp = num_kp

    def forward(self, mouth: torch.Tensor) -> torch.Tensor:
        return (mouth[:, :1] * self.basis[:1] + mouth[:, 1:] * self.basis[1:]).view(
            -1, self.num_kp, 2)


class AudioDriver(nn.Module):
    """What a model's audio checkpoint holds: the network and that model's mouth basis."""

    def __init__(self, model_cfg: ModelConfig, cfg: AudioNetConfig, spec: FeatureSpec):
        super().__init__()
        self.net, self.mouth_basis = AudioNet(cfg, spec), MouthBasis(model_cfg.num_kp)
        self.spec, self.cfg, self.net_cfg = spec, model_cfg, cfg


class AudioComponent(Component):
    """The frame stage's driver for audio: the source's keypoints moved by the mouth the audio
    window implies (driver "audio", in place of keypoints on a driving frame)."""

    name, stage = "audio", "audio"

    def __init__(self, driver: AudioDriver):
        super().__init__()
        self.driver, self.cfg = driver, driver.cfg

    def io_spec(self):
        spec, k = self.driver.spec, self.driver.cfg.num_kp
        return (
            [TensorSpec("mel", (1, spec.mels, 1, spec.context), range="log-mel window"),
             TensorSpec("kp_source", (1, k, 2), range="[-1,1] (x,y) mixed")],
            [TensorSpec("kp_driving", (1, k, 2), range="[-1,1] (x,y) mixed"),
             TensorSpec("mouth", (1, 2), range="[opening, width] relative to rest")],
        )

    def example_inputs(self, generator=None):
        mel, kp = super().example_inputs(generator)
        return mel * 20 - 14, kp  # log-mel values span about -14 .. 6

    def forward(self, mel, kp_source):
        mouth = self.driver.net(mel)
        return kp_source + self.driver.mouth_basis(mouth), mouth
