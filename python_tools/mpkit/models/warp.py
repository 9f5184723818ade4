"""The warp: the only place in the networks that samples an image by a flow field.

Every sampling call goes through `Warp`, so lowering can swap its implementation per backend
(bilinear; padding and align_corners come from the model's `warp` config).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mpkit.models.config import WarpConfig


class Warp(nn.Module):
    """image [B,C,H,W], grid [B,h,w,2] of (x, y) in [-1,1] → sampled [B,C,h,w]."""

    def __init__(self, cfg: WarpConfig):
        super().__init__()
        self.padding_mode = cfg.padding_mode
        self.align_corners = cfg.align_corners

    def forward(self, image: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        return F.grid_sample(image, grid, mode="bilinear", padding_mode=self.padding_mode,
                             align_corners=self.align_corners)


def upsample_grid(grid: torch.Tensor, size: int) -> torch.Tensor:
    """A [B,h,w,2] sampling grid resized to [B,size,size,2] (bilinear)."""
    g = F.interpolate(grid.permute(0, 3, 1, 2), size=(size, size), mode="bilinear",
                      align_corners=True)
    return g.permute(0, 2, 3, 1)
