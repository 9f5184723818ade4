"""Synthesis U-Net: the warped source (occluded), the pseudo background and the cached
pseudo-multiview features → the output frame."""

from __future__ import annotations

import torch
from torch import nn

from mpkit.models.blocks import ConvBlock, DownBlock, ResBlock, UpBlock
from mpkit.models.config import ModelConfig

ENCODER_INPUT = 7  # warped·occlusion (3), occlusion (1), pseudo background (3)


class Synthesis(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        sc = cfg.synthesis
        width = lambda i: min(sc.max_features, sc.block_expansion * 2**i)  # noqa: E731
        self.first = ConvBlock(ENCODER_INPUT, width(0))
        self.down = nn.ModuleList(DownBlock(width(i), width(i + 1))
                                  for i in range(sc.num_down_blocks))
        self.bottom_channels = width(sc.num_down_blocks)
        self.bottom_size = cfg.resolution // 2**sc.num_down_blocks
        # The one extra conv of pseudo multiview: current + T cached bottleneck features.
        self.fuse = nn.Conv2d(self.bottom_channels * (1 + cfg.views), self.bottom_channels, 1)
        self.bottleneck = nn.Sequential(*(ResBlock(self.bottom_channels)
                                          for _ in range(sc.num_bottleneck_blocks)))
        self.up = nn.ModuleList(UpBlock(width(i + 1) * (1 if i == sc.num_down_blocks - 1 else 2),
                                        width(i))
                                for i in reversed(range(sc.num_down_blocks)))
        self.final = nn.Conv2d(width(0) * 2, 3, 3, padding=1)

    @staticmethod
    def encoder_input(warped, occlusion, background):
        return torch.cat([warped * occlusion, occlusion, background], dim=1)

    def encode(self, x: torch.Tensor, occlusions: list[torch.Tensor]) -> list[torch.Tensor]:
        """Encoder features, finest first; each level with an occlusion mask of its size is
        multiplied by it."""
        masks = {o.shape[-1]: o for o in occlusions}
        feats = [self.first(x)]
        for block in self.down:
            feats.append(block(feats[-1]))
        return [f * masks[f.shape[-1]] if f.shape[-1] in masks else f for f in feats]

    def decode(self, feats: list[torch.Tensor], multiview: torch.Tensor) -> torch.Tensor:
        skips = list(feats)
        y = self.fuse(torch.cat([skips.pop(), multiview], dim=1))
        y = self.bottleneck(y)
        for block in self.up:
            y = torch.cat([block(y), skips.pop()], dim=1)
        return torch.sigmoid(self.final(y))
