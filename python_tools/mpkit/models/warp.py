"""The warp: the only place in the networks that samples an image by a flow field.

Every sampling call goes through `Warp`, so lowering can swap its implementation per backend.
Both implementations compute the same bilinear sample (padding and align_corners from the
model's `warp` config):
- `grid_sample`: `F.grid_sample`. XNNPACK runs it on the portable kernel; Vulkan delegates it
  with border padding and align_corners=True; the TFLite converter decomposes it into ~100
  GATHER_ND/5-D BROADCAST_TO/SELECT ops per call, which the GPU delegate cannot run.
- `embed`: the four bilinear corners fetched with `F.embedding` (1-D ids) from an NHWC table and
  blended with arithmetic weights. TFLite: CAST + EMBEDDING_LOOKUP; NNAPI maps it, the classic
  GPU delegate has no parser for it, LiteRT's GPU compatibility check accepts it with 1-D ids.
  (litert-torch lowers index_select/gather/indexing to GATHER_ND, so embedding is the only
  lookup that stays a single delegate-listed op.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mpkit.models.config import WarpConfig

WARP_IMPLS = ("grid_sample", "embed")


class Warp(nn.Module):
    """image [B,C,H,W], grid [B,h,w,2] of (x, y) in [-1,1] → sampled [B,C,h,w]."""

    def __init__(self, cfg: WarpConfig, impl: str = "grid_sample"):
        super().__init__()
        self.padding_mode = cfg.padding_mode
        self.align_corners = cfg.align_corners
        self.impl = impl

    def forward(self, image: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        if self.impl == "embed":
            return embed_sample(image, grid, self.padding_mode, self.align_corners)
        return F.grid_sample(image, grid, mode="bilinear", padding_mode=self.padding_mode,
                             align_corners=self.align_corners)


def _pixel(coord: torch.Tensor, size: int, align_corners: bool) -> torch.Tensor:
    if align_corners:
        return (coord + 1) * (0.5 * (size - 1))
    return (coord + 1) * (0.5 * size) - 0.5


def _inside(index: torch.Tensor, size: int) -> torch.Tensor:
    """1 where 0 <= index <= size-1, else 0, in arithmetic only (no bool tensors)."""
    return 1 - (index - index.clamp(0, size - 1)).abs().clamp(0, 1)


def embed_sample(image: torch.Tensor, grid: torch.Tensor, padding_mode: str,
                 align_corners: bool) -> torch.Tensor:
    """Bilinear sampling of images [B,C,H,W] at grids [B,h,w,2] by embedding lookups into one
    [B·H·W, C] table (sample b's rows start at b·H·W: a constant, not an in-graph arange)."""
    b, c, h, w = image.shape
    table = image.permute(0, 2, 3, 1).reshape(b * h * w, c)
    offset = torch.tensor([i * h * w for i in range(b)], dtype=torch.float32).view(b, 1, 1)
    ix = _pixel(grid[..., 0], w, align_corners)
    iy = _pixel(grid[..., 1], h, align_corners)
    if padding_mode == "border":
        ix, iy = ix.clamp(0, w - 1), iy.clamp(0, h - 1)
    x0, y0 = torch.floor(ix), torch.floor(iy)
    wx, wy = ix - x0, iy - y0
    out = 0
    for dx, dy, weight in ((0, 0, (1 - wx) * (1 - wy)), (1, 0, wx * (1 - wy)),
                           (0, 1, (1 - wx) * wy), (1, 1, wx * wy)):
        xi, yi = x0 + dx, y0 + dy
        if padding_mode == "zeros":
            weight = weight * _inside(xi, w) * _inside(yi, h)
        index = yi.clamp(0, h - 1) * w + xi.clamp(0, w - 1) + offset
        # flattened before the cast: the GPU delegate takes no int32 RESHAPE
        rows = F.embedding(index.reshape(-1).to(torch.int32), table).reshape(*index.shape, c)
        out = out + rows * weight.unsqueeze(-1)
    return out.permute(0, 3, 1, 2)


def upsample_grid(grid: torch.Tensor, size: int) -> torch.Tensor:
    """A [B,h,w,2] sampling grid resized to [B,size,size,2] (bilinear)."""
    g = F.interpolate(grid.permute(0, 3, 1, 2), size=(size, size), mode="bilinear",
                      align_corners=True)
    return g.permute(0, 2, 3, 1)
