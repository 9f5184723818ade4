"""PortraitModel: the MobilePortrait networks and their export-clean components.

Source stage (once per avatar): `keypoints` on the source, `dense_motion` for each of the T
pseudo-multiview poses, `multiview` (synthesis encoder on the T warped views).
Frame stage (every frame): `keypoints` on the driving frame, `dense_motion`, `synthesis`.
Every component takes tensors and returns a tuple of tensors with static shapes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from mpkit.models.blocks import repeat_each
from mpkit.models.config import ModelConfig
from mpkit.models.dense_motion import DenseMotion, downsample
from mpkit.models.keypoints import KeypointMixer, KeypointNet
from mpkit.models.synthesis import Synthesis
from mpkit.models.warp import Warp, upsample_grid


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    range: str = ""  # what the values mean, e.g. "[0,1] RGB" or "[-1,1] (x,y)"


def _motion_specs(cfg: ModelConfig, batch: int, suffix: str = "") -> list[TensorSpec]:
    """The dense-motion outputs as inputs: deformation grid and occlusion masks."""
    s = cfg.dense_motion.size
    return [TensorSpec(f"deformation{suffix}", (batch, s, s, 2), range="[-1,1] (x,y) sampling grid"),
            *(TensorSpec(f"occlusion{suffix}_{o}", (batch, 1, o, o), range="[0,1]")
              for o in cfg.dense_motion.occlusion_sizes)]


def _image_specs(cfg: ModelConfig, *names: str) -> list[TensorSpec]:
    r = cfg.resolution
    return [TensorSpec(n, (1, 3, r, r), range="[0,1] RGB") for n in names]


class Component(nn.Module):
    """An exportable piece of the model: named, staged, with a fixed I/O spec."""

    name: str
    stage: str  # "source" (once per avatar) | "frame" (every frame) | "audio" (every frame, in
    # place of keypoints on a driving frame when speech drives)

    def io_spec(self) -> tuple[list[TensorSpec], list[TensorSpec]]:
        raise NotImplementedError

    def example_inputs(self, generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:
        inputs, _ = self.io_spec()
        out = []
        for spec in inputs:
            x = torch.rand(spec.shape, generator=generator)
            out.append(x * 1.6 - 0.8 if "(x,y)" in spec.range else x)
        return tuple(out)


class KeypointsComponent(Component):
    name, stage = "keypoints", "frame"

    def __init__(self, model: PortraitModel):
        super().__init__()
        self.detector, self.mixer, self.cfg = model.kp_detector, model.kp_mixer, model.cfg

    def io_spec(self):
        c, r = self.cfg, self.cfg.resolution
        return (
            [TensorSpec("image", (1, 3, r, r), range="[0,1] RGB"),
             TensorSpec("facial_kp", (1, c.facial_points, 2), range="[-1,1] (x,y)")],
            [TensorSpec("kp", (1, c.num_kp, 2), range="[-1,1] (x,y) mixed"),
             TensorSpec("kp_neural", (1, c.num_kp, 2), range="[-1,1] (x,y)")],
        )

    def forward(self, image, facial_kp):
        neural = self.detector(image)
        mixed = self.mixer(neural, facial_kp) if self.cfg.keypoints.use_facial else neural
        return mixed, neural


class DenseMotionComponent(Component):
    name, stage = "dense_motion", "frame"

    def __init__(self, model: PortraitModel):
        super().__init__()
        self.net, self.cfg = model.dense_motion, model.cfg

    def io_spec(self):
        c, s = self.cfg, self.cfg.dense_motion.size
        return (
            [TensorSpec("source_small", (1, 3, s, s), range="[0,1] RGB"),
             TensorSpec("source_masks", (1, 2, s, s), range="[0,1] foreground, facial"),
             TensorSpec("kp_source", (1, c.num_kp, 2), range="[-1,1] (x,y)"),
             TensorSpec("kp_driving", (1, c.num_kp, 2), range="[-1,1] (x,y) relative")],
            _motion_specs(c, 1),
        )

    def forward(self, source_small, source_masks, kp_source, kp_driving):
        return self.net(source_small, source_masks, kp_source, kp_driving)


class _SynthesisPart(Component):
    """A component built on the synthesis U-Net and the warp."""

    def __init__(self, model: PortraitModel):
        super().__init__()
        self.net, self.warp, self.cfg = model.synthesis, model.warp, model.cfg

    def multiview_spec(self) -> TensorSpec:
        b, z = self.net.bottom_channels, self.net.bottom_size
        return TensorSpec("multiview", (1, b * self.cfg.views, z, z), range="features")


class SynthesisComponent(_SynthesisPart):
    """Warps the source by the deformation and synthesizes the frame."""

    name, stage = "synthesis", "frame"

    def io_spec(self):
        c = self.cfg
        return (
            [*_image_specs(c, "source", "background"), self.multiview_spec(), *_motion_specs(c, 1)],
            _image_specs(c, "image"),
        )

    def forward(self, source, background, multiview, deformation, *occlusions):
        return (self.render(source, background, multiview, deformation, list(occlusions)),)

    def render(self, source, background, multiview, deformation, occlusions):
        warped = self.warp(source, upsample_grid(deformation, self.cfg.resolution))
        x = self.net.encoder_input(warped, occlusions[-1], background)
        return self.net.decode(self.net.encode(x, occlusions), multiview)


class MultiviewComponent(_SynthesisPart):
    """The source warped to T driving poses, encoded once; the bottleneck features are cached."""

    name, stage = "multiview", "source"

    def io_spec(self):
        c = self.cfg
        return ([*_image_specs(c, "source", "background"), *_motion_specs(c, c.views, "s")],
                [self.multiview_spec()])

    def forward(self, source, background, deformations, *occlusions):
        return (self.encode_views(source, background, deformations, list(occlusions)),)

    def encode_views(self, source, background, deformations, occlusions):
        """source/background [B,...], motions [B*T,...] → [B, T*C, z, z]."""
        b, t = source.shape[0], self.cfg.views
        warped = self.warp(source, upsample_grid(deformations, self.cfg.resolution))
        x = self.net.encoder_input(warped, occlusions[-1], repeat_each(background, t))
        bottom = self.net.encode(x, occlusions)[-1]
        return bottom.reshape(b, -1, *bottom.shape[-2:])


class PortraitModel(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.warp = Warp(cfg.warp)
        self.kp_detector = KeypointNet(cfg)
        self.kp_mixer = KeypointMixer(cfg)
        self.dense_motion = DenseMotion(cfg, self.warp)
        self.synthesis = Synthesis(cfg)

    def components(self) -> dict[str, Component]:
        parts = (KeypointsComponent(self), DenseMotionComponent(self), SynthesisComponent(self),
                 MultiviewComponent(self))
        return {c.name: c for c in parts}

    def source_small(self, source: torch.Tensor) -> torch.Tensor:
        return downsample(source, self.cfg.dense_motion.size)
