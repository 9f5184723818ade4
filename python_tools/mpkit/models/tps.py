"""Thin-plate-spline motion: the per-frame TPS solve, the dense grids and keypoint heatmaps.

Written for both accelerators: every tensor stays 4-D or less, products are elementwise MULs
and sums are 1×1 convolutions by constant ones. LiteRT's GPU accelerator rejects 5-D tensors
(MUL, RESHAPE; a 5-D broadcasting SUB becomes version 3) and BATCH_MATMUL between two computed
tensors; XNNPACK takes no sum, argmax, comparison, cast, select or int scalar.
The solve is a batched, pivoted Gauss–Jordan elimination written with static loops and
constant buffers. `torch.linalg.inv/solve` export but do not lower (ExecuTorch: not Core ATen;
litert-torch: converter assertion), unpivoted elimination loses up to 8 px because the TPS system
has a zero block, and in-graph `eye/arange` become STABLEHLO_IOTA, which LiteRT rejects.
Distances use `Σ (a - b)·(a - b)` per coordinate plane: the expanded `|a|² - 2ab + |b|²` form
miscompiles in litert-torch 0.10, and `** 2` lowers to TFL POW, which the converter rejects.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

REGULARIZATION = 0.01


def coordinate_planes(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x and y [1,1,size,size] of the pixel centres in [-1, 1] (align_corners=True convention)."""
    axis = torch.linspace(-1.0, 1.0, size)
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    return x.reshape(1, 1, size, size).contiguous(), y.reshape(1, 1, size, size).contiguous()


def _square(d: torch.Tensor) -> torch.Tensor:
    return d * d


def _radial(sq_dist: torch.Tensor) -> torch.Tensor:
    return sq_dist * torch.log(sq_dist + 1e-9)


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
            ) -> torch.Tensor:
    """x [..., i] by a constant weight [o, i, 1, 1], as a 1×1 convolution (litert-torch turns
    a linear on a reshaped tensor into a 4-D BATCH_MATMUL its own passes reject)."""
    o, i = weight.shape[:2]
    return F.conv2d(x.reshape(-1, i, 1, 1), weight, bias).reshape(*x.shape[:-1], o)


class PivotedSolver(nn.Module):
    """Solves A X = B for a batch of small systems A [..., n, n], B [..., n, m].

    The elimination runs on the transposed augmented matrix (columns × rows), so a pivot
    column is a row vector and sums over rows are 1×1 convolutions. The pivot is the first row
    of largest magnitude, as argmax picks it: `floor(|a| / max |a|)` is 1 exactly at the maxima,
    and a constant strictly-lower-triangular product counts the maxima before each row.
    """

    def __init__(self, n: int):
        super().__init__()
        buffer = lambda name, x: self.register_buffer(name, x, persistent=False)  # noqa: E731
        buffer("eye", torch.eye(n))  # row j: the one-hot of row j
        buffer("not_eye", 1 - torch.eye(n))
        buffer("below", torch.triu(torch.ones(n, n)))  # row j masks rows >= j, the candidates
        # 1 - the number of maxima before each row: a 1×1 convolution with a bias
        buffer("before", -torch.tril(torch.ones(n, n), diagonal=-1).view(n, n, 1, 1))
        buffer("one", torch.ones(n))
        buffer("ones", torch.ones(1, n, 1, 1))
        self.n = n

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        m = torch.cat([a, b], dim=-1).transpose(-1, -2)  # [..., n+m, n]: m[..., c, r]
        for j in range(self.n):
            e_j, not_j = self.eye[j : j + 1], self.not_eye[j : j + 1]  # [1, n]
            column = m[..., j : j + 1, :].abs() * self.below[j : j + 1]  # [..., 1, n]
            peak = column[..., j : j + 1]
            for i in range(j + 1, self.n):
                peak = torch.maximum(peak, column[..., i : i + 1])
            is_max = torch.floor(column / peak)
            e_p = is_max * F.relu(_linear(is_max, self.before, self.one))  # the first maximum
            # Rows j and p swapped by selection (exact; identity when p == j): row j takes the
            # pivot row, row p takes row j.
            row = _linear(m * e_p, self.ones)  # [..., n+m, 1]
            p_j = e_p * not_j
            m = m * (not_j - p_j) + e_j * row + p_j * m[..., :, j : j + 1]
            row = row / row[..., j : j + 1, :]
            m = m - row * (m[..., j : j + 1, :] - e_j)
        return m[..., self.n :, :].transpose(-1, -2)


class ThinPlateSpline(nn.Module):
    """K TPS transforms of P points each. `solve` fits the transforms that map driving keypoints
    onto source keypoints; `planes` evaluates them (plus the identity) on a size×size grid."""

    def __init__(self, num_tps: int, points: int, size: int):
        super().__init__()
        self.num_tps, self.points = num_tps, points
        self.solver = PivotedSolver(points + 3)
        x, y = coordinate_planes(size)
        self.register_buffer("grid_x", x, persistent=False)
        self.register_buffer("grid_y", y, persistent=False)
        self.register_buffer("reg", torch.eye(points + 3) * REGULARIZATION, persistent=False)
        # Σ over each transform's P points (block-diagonal ones): the accelerator crashes on the
        # equivalent grouped convolution.
        group_sum = torch.block_diag(*[torch.ones(1, points)] * num_tps).view(num_tps, -1, 1, 1)
        self.register_buffer("group_sum", group_sum, persistent=False)
        self.size = size

    def solve(self, kp_source: torch.Tensor, kp_driving: torch.Tensor) -> torch.Tensor:
        """[B,K*P,2] each → parameters [B,K,P+3,2] (P radial weights, then the affine part)."""
        b, k, p = kp_source.shape[0], self.num_tps, self.points
        d = kp_driving.view(b, k, p, 2)
        dx, dy = d[..., 0:1], d[..., 1:2]  # [B,K,P,1]
        rx, ry = dx.reshape(b, k, 1, p), dy.reshape(b, k, 1, p)
        radial = _radial(_square(dx - rx) + _square(dy - ry))  # [B,K,P,P]
        # Ones and zero blocks from `x * 0.0` of same-shaped slices: `ones_like` is a full_like
        # XNNPACK does not take, `expand` a BROADCAST_TO, and integer scalars add casts.
        one = dx * 0.0 + 1.0
        top = torch.cat([radial, dx, dy, one], dim=-1)
        bottom = torch.cat([torch.cat([rx, ry, one.reshape(b, k, 1, p)], dim=-2),
                            radial[..., :3, :3] * 0.0], dim=-1)
        lhs = torch.cat([top, bottom], dim=-2) + self.reg
        s = kp_source.view(b, k, p, 2)
        rhs = torch.cat([s, s[..., :3, :] * 0.0], dim=-2)
        return self.solver(lhs, rhs)

    def planes(self, params: torch.Tensor, kp_driving: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """x and y [B,K+1,size,size] of the sampling grids: the K transforms, then the identity
        (background)."""
        b, k, p = params.shape[0], self.num_tps, self.points
        gx, gy = self.grid_x, self.grid_y
        d = kp_driving.view(b, k * p, 1, 2)
        radial = _radial(_square(gx - d[..., 0:1]) + _square(gy - d[..., 1:2]))  # [B,K*P,s,s]
        out = []
        for c, g in ((0, gx), (1, gy)):
            w = params[..., c : c + 1]  # [B,K,P+3,1]
            weighted = F.conv2d(radial * w[:, :, :p].reshape(b, k * p, 1, 1), self.group_sum)
            moved = (weighted + gx * w[:, :, p : p + 1] + gy * w[:, :, p + 1 : p + 2]
                     + w[:, :, p + 2 :])  # [B,K,s,s]
            out.append(torch.cat([moved, moved[:, :1] * 0.0 + g], dim=1))
        return out[0], out[1]

    def grids(self, params: torch.Tensor, kp_driving: torch.Tensor) -> torch.Tensor:
        """The planes as (x, y) grids [B,K+1,size,size,2] (eager checks; 5-D, not exported)."""
        return torch.stack(self.planes(params, kp_driving), dim=-1)


def heatmaps(kp: torch.Tensor, grid_x: torch.Tensor, grid_y: torch.Tensor, variance: float
             ) -> torch.Tensor:
    """Gaussian keypoint heatmaps [B,K,size,size] for kp [B,K,2] on planes [1,1,size,size]."""
    b, k = kp.shape[:2]
    x, y = kp[..., 0:1].view(b, k, 1, 1), kp[..., 1:2].view(b, k, 1, 1)
    return torch.exp(-0.5 * (_square(grid_x - x) + _square(grid_y - y)) / variance)
