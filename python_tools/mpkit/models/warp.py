"""The warp: the only place in the networks that samples an image by a flow field.

Every sampling call goes through `Warp`, so lowering can swap its implementation per backend.
All implementations compute the same bilinear sample (padding and align_corners from the
model's `warp` config):
- `grid_sample`: `F.grid_sample`. XNNPACK runs it on the portable kernel; Vulkan delegates it
  with border padding and align_corners=True; the TFLite converter decomposes it into ~100
  GATHER_ND/5-D BROADCAST_TO/SELECT ops per call, which the GPU delegate cannot run.
- `embed`: the four bilinear corners fetched with one `F.embedding` (1-D ids) from an NHWC table
  and blended by linear interpolation. TFLite: CAST + EMBEDDING_LOOKUP, which LiteRT's GPU
  accelerator crashes on (segmentation fault, even alone).
- `gather`: the same corners fetched with one axis gather from a `[1, B·H·W, 1, C]` table:
  TFLite GATHER (axis 1, int32 ids), which LiteRT's GPU accelerator runs. litert-torch lowers
  `index_select`/`gather`/indexing to GATHER_ND (not on the GPU); only its own
  `torch.ops.tfl.gather` op becomes GATHER, so that op is used whenever litert-torch is loaded
  (it registers `torch.ops.tfl` on import, i.e. always while it converts), and
  `torch.index_select`, that op's eager kernel, otherwise.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mpkit.models.blocks import repeat_each
from mpkit.models.config import WarpConfig

WARP_IMPLS = ("grid_sample", "embed", "gather")


class Warp(nn.Module):
    """image [B,C,H,W], grid [B·k,h,w,2] of (x, y) in [-1,1] → sampled [B·k,C,h,w]; each image
    is sampled by k consecutive grids."""

    def __init__(self, cfg: WarpConfig, impl: str = "grid_sample"):
        super().__init__()
        self.padding_mode = cfg.padding_mode
        self.align_corners = cfg.align_corners
        self.impl = impl

    def forward(self, image: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        if self.impl in _LOOKUPS:
            return corner_sample(image, grid, self.padding_mode, self.align_corners,
                                 _LOOKUPS[self.impl])
        if self.impl != "grid_sample":
            raise ValueError(f"unknown warp implementation {self.impl!r}; choose one of "
                             f"{', '.join(WARP_IMPLS)}")
        if image.shape[0] != grid.shape[0]:
            image = repeat_each(image, grid.shape[0] // image.shape[0])
        return F.grid_sample(image, grid, mode="bilinear", padding_mode=self.padding_mode,
                             align_corners=self.align_corners)


def _pixel(coord: torch.Tensor, size: int, align_corners: bool) -> torch.Tensor:
    if align_corners:
        return coord * (0.5 * (size - 1)) + 0.5 * (size - 1)
    return coord * (0.5 * size) + (0.5 * size - 0.5)


def _inside(index: torch.Tensor, size: int) -> torch.Tensor:
    """1 where 0 <= index <= size-1, else 0, in arithmetic only (no bool tensors; no clamp to
    [0, 1], which becomes RELU_0_TO_1, an op the GPU accelerator rejects)."""
    return 1 - (index - index.clamp(0, size - 1)).abs().clamp(max=1)


def _int(plane: torch.Tensor) -> torch.Tensor:
    """Whole-number coordinates as 1-D int32, flattened before the cast: the GPU delegate takes
    no int32 RESHAPE."""
    return plane.reshape(-1).to(torch.int32)


def _embed(table: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    return F.embedding(ids, table)


def _gather(table: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    rows = table.reshape(1, table.shape[0], 1, table.shape[1])  # GATHER on a 4-D tensor
    if hasattr(torch.ops.tfl, "gather"):  # litert-torch is loaded: its op, lowered to GATHER
        rows = torch.ops.tfl.gather(rows, ids, 1)
    else:
        rows = torch.index_select(rows, 1, ids)
    return rows.reshape(ids.shape[0], table.shape[1])


_LOOKUPS = {"embed": _embed, "gather": _gather}


def corner_sample(image: torch.Tensor, grid: torch.Tensor, padding_mode: str,
                  align_corners: bool, lookup=_embed) -> torch.Tensor:
    """Bilinear sampling of images [B,C,H,W] at grids [B·k,h,w,2] (each image sampled by k
    consecutive grids) by one lookup (`_embed` or `_gather`: table [B·H·W, C], int32 ids [M] →
    rows [M, C]) of all four corners.

    Index math runs on x/y planes and the blend on channel planes: broadcasting a per-sample
    weight over an innermost axis of C=3 is slow in XNNPACK, over a contiguous plane it is not.
    For LiteRT's GPU accelerator: every float tensor is 4-D with batch 1 and broadcast only over
    inner axes (it computes batch-axis broadcasts such as [1,M] + [4,1] wrongly, without an
    error), and the row ids are computed in int32, cast from the corners' whole-number x and y
    (fp16, phones' default GPU precision, holds integers exactly only up to 2048; a 256² table
    has 65,536 rows). With border padding the
    top-left corner is clamped to H-2/W-2 so the other three are always inside (at the last
    pixel the weight is exactly 1); zeros padding masks corners outside.
    """
    b, c, h, w = image.shape
    n, gh, gw = grid.shape[:3]
    if h < 2 or w < 2 or n % b:
        raise ValueError(f"cannot warp images {list(image.shape)} by grids {list(grid.shape)}: "
                         "images need 2+ rows and columns, and the grid batch a multiple of "
                         "the image batch")
    table = image.permute(0, 2, 3, 1).reshape(b * h * w, c)
    planes = grid.permute(3, 0, 1, 2)  # [2, n, h, w]
    x, y = _pixel(planes[:1], w, align_corners), _pixel(planes[1:], h, align_corners)
    if padding_mode == "border":
        x, y = x.clamp(0, w - 1), y.clamp(0, h - 1)
        x0, y0 = torch.floor(x).clamp(max=w - 2), torch.floor(y).clamp(max=h - 2)
        col, row = _int(x0), _int(y0) * w
        cols, rows = (col, col + 1), (row, row + w)
        mask = None
    else:
        x0, y0 = torch.floor(x), torch.floor(y)
        cols = (_int(x0.clamp(0, w - 1)), _int((x0 + 1).clamp(0, w - 1)))
        rows = (_int(y0.clamp(0, h - 1)) * w, _int((y0 + 1).clamp(0, h - 1)) * w)
        inx, iny = (_inside(x0, w), _inside(x0 + 1, w)), (_inside(y0, h), _inside(y0 + 1, h))
        mask = torch.cat([iny[0] * inx[0], iny[0] * inx[1], iny[1] * inx[0], iny[1] * inx[1]], 1)
    if b > 1:  # sample i's rows start at (i // k)·H·W: from Python ints, not an in-graph arange
        first = torch.tensor([(i // (n // b)) * h * w for i in range(n)], dtype=torch.int32)
        rows = tuple(r + first.repeat_interleave(gh * gw) for r in rows)
    ids = torch.cat([rows[0] + cols[0], rows[0] + cols[1], rows[1] + cols[0], rows[1] + cols[1]])
    corners = lookup(table, ids).reshape(1, 4, -1, c).permute(0, 3, 1, 2)  # [1, C, 4, n·h·w]
    if mask is not None:
        corners = corners * mask.reshape(1, 1, 4, -1)
    wx, wy = (x - x0).reshape(1, 1, 1, -1), (y - y0).reshape(1, 1, 1, -1)
    top = corners[:, :, :1] + wx * (corners[:, :, 1:2] - corners[:, :, :1])
    bottom = corners[:, :, 2:3] + wx * (corners[:, :, 3:] - corners[:, :, 2:3])
    out = top + wy * (bottom - top)
    return out.reshape(c, n, gh, gw).permute(1, 0, 2, 3)


def upsample_grid(grid: torch.Tensor, size: int) -> torch.Tensor:
    """A [B,h,w,2] sampling grid resized to [B,size,size,2] (bilinear)."""
    g = F.interpolate(grid.permute(0, 3, 1, 2), size=(size, size), mode="bilinear",
                      align_corners=True)
    return g.permute(0, 2, 3, 1)
