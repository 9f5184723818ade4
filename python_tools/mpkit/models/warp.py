"""The warp: the only place in the networks that samples an image by a flow field.

Every sampling call goes through `Warp`, so lowering can swap its implementation per backend.
Both implementations compute the same bilinear sample (padding and align_corners from the
model's `warp` config):
- `grid_sample`: `F.grid_sample`. XNNPACK runs it on the portable kernel; Vulkan delegates it
  with border padding and align_corners=True; the TFLite converter decomposes it into ~100
  GATHER_ND/5-D BROADCAST_TO/SELECT ops per call, which the GPU delegate cannot run.
- `embed`: the four bilinear corners fetched with one `F.embedding` (1-D ids) from an NHWC table
  and blended by linear interpolation. TFLite: CAST + EMBEDDING_LOOKUP; NNAPI maps it, the classic
  GPU delegate has no parser for it, LiteRT's GPU compatibility check accepts it with 1-D ids.
  (litert-torch lowers index_select/gather/indexing to GATHER_ND, so embedding is the only
  lookup that stays a single delegate-listed op.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mpkit.models.blocks import repeat_each
from mpkit.models.config import WarpConfig

WARP_IMPLS = ("grid_sample", "embed")


class Warp(nn.Module):
    """image [B,C,H,W], grid [B·k,h,w,2] of (x, y) in [-1,1] → sampled [B·k,C,h,w]; each image
    is sampled by k consecutive grids."""

    def __init__(self, cfg: WarpConfig, impl: str = "grid_sample"):
        super().__init__()
        self.padding_mode = cfg.padding_mode
        self.align_corners = cfg.align_corners
        self.impl = impl

    def forward(self, image: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        if self.impl == "embed":
            return embed_sample(image, grid, self.padding_mode, self.align_corners)
        if image.shape[0] != grid.shape[0]:
            image = repeat_each(image, grid.shape[0] // image.shape[0])
        return F.grid_sample(image, grid, mode="bilinear", padding_mode=self.padding_mode,
                             align_corners=self.align_corners)


def _pixel(coord: torch.Tensor, size: int, align_corners: bool) -> torch.Tensor:
    if align_corners:
        return coord * (0.5 * (size - 1)) + 0.5 * (size - 1)
    return coord * (0.5 * size) + (0.5 * size - 0.5)


def _inside(index: torch.Tensor, size: int) -> torch.Tensor:
    """1 where 0 <= index <= size-1, else 0, in arithmetic only (no bool tensors)."""
    return 1 - (index - index.clamp(0, size - 1)).abs().clamp(0, 1)


def embed_sample(image: torch.Tensor, grid: torch.Tensor, padding_mode: str,
                 align_corners: bool) -> torch.Tensor:
    """Bilinear sampling of images [B,C,H,W] at grids [B·k,h,w,2] (each image sampled by k
    consecutive grids) by one embedding lookup of all four corners in a [B·H·W, C] table.

    Index math runs on x/y planes and the blend on channel planes: broadcasting a per-sample
    weight over an innermost axis of C=3 is slow in XNNPACK, over a contiguous plane it is not.
    With border padding the top-left corner is clamped to H-2/W-2 so the other three are always
    inside (at the last pixel the weight is exactly 1); zeros padding masks corners outside.
    """
    b, c, h, w = image.shape
    n, gh, gw = grid.shape[:3]
    if h < 2 or w < 2 or n % b:
        raise ValueError(f"cannot warp images {list(image.shape)} by grids {list(grid.shape)}: "
                         "images need 2+ rows and columns, and the grid batch a multiple of "
                         "the image batch")
    table = image.permute(0, 2, 3, 1).reshape(b * h * w, c)
    # sample i's rows start at (i // k)·H·W: a constant, not an in-graph arange
    offset = torch.tensor([(i // (n // b)) * h * w for i in range(n)],
                          dtype=torch.float32).view(n, 1, 1)
    planes = grid.permute(3, 0, 1, 2)  # [2, n, h, w]
    x, y = _pixel(planes[0], w, align_corners), _pixel(planes[1], h, align_corners)
    if padding_mode == "border":
        x, y = x.clamp(0, w - 1), y.clamp(0, h - 1)
        x0, y0 = torch.floor(x).clamp(max=w - 2), torch.floor(y).clamp(max=h - 2)
        base = (y0 * w + x0 + offset).reshape(1, -1)
        ids = base + torch.tensor([[0.0], [1.0], [w], [w + 1.0]])
        mask = None
    else:
        x0, y0 = torch.floor(x), torch.floor(y)
        xs = (x0.clamp(0, w - 1), (x0 + 1).clamp(0, w - 1))
        ys = (y0.clamp(0, h - 1) * w + offset, (y0 + 1).clamp(0, h - 1) * w + offset)
        ids = torch.stack([ys[0] + xs[0], ys[0] + xs[1], ys[1] + xs[0], ys[1] + xs[1]])
        inx, iny = (_inside(x0, w), _inside(x0 + 1, w)), (_inside(y0, h), _inside(y0 + 1, h))
        mask = torch.stack([iny[0] * inx[0], iny[0] * inx[1], iny[1] * inx[0], iny[1] * inx[1]])
    # flattened before the cast: the GPU delegate takes no int32 RESHAPE
    rows = F.embedding(ids.reshape(-1).to(torch.int32), table)
    corners = rows.reshape(4, -1, c).permute(2, 0, 1)  # [C, 4, n·h·w]
    if mask is not None:
        corners = corners * mask.reshape(4, -1)
    wx, wy = (x - x0).reshape(1, -1), (y - y0).reshape(1, -1)
    top = corners[:, 0] + wx * (corners[:, 1] - corners[:, 0])
    bottom = corners[:, 2] + wx * (corners[:, 3] - corners[:, 2])
    out = top + wy * (bottom - top)
    return out.reshape(c, n, gh, gw).permute(1, 0, 2, 3)


def upsample_grid(grid: torch.Tensor, size: int) -> torch.Tensor:
    """A [B,h,w,2] sampling grid resized to [B,size,size,2] (bilinear)."""
    g = F.interpolate(grid.permute(0, 3, 1, 2), size=(size, size), mode="bilinear",
                      align_corners=True)
    return g.permute(0, 2, 3, 1)
