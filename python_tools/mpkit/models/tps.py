"""Thin-plate-spline motion: the per-frame TPS solve, the dense grids and keypoint heatmaps.

The solve is a batched, pivoted Gauss–Jordan elimination written with static loops, matmuls and
constant buffers. `torch.linalg.inv/solve` export but do not lower (ExecuTorch: not Core ATen;
litert-torch: converter assertion), unpivoted elimination loses up to 8 px because the TPS system
has a zero block, and in-graph `eye/arange` become STABLEHLO_IOTA, which LiteRT rejects.
Distances use `Σ (a - b)·(a - b)`: the expanded `|a|² - 2ab + |b|²` form miscompiles in
litert-torch 0.10, and `** 2` does not convert.
"""

from __future__ import annotations

import torch
from torch import nn

REGULARIZATION = 0.01


def coordinate_grid(size: int) -> torch.Tensor:
    """[size*size, 2] (x, y) pixel centres in [-1, 1], row-major, align_corners=True convention."""
    axis = torch.linspace(-1.0, 1.0, size)
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([x, y], dim=-1).view(-1, 2)


def squared_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Σ (a - b)² over the last axis, written as d·d (a `** 2` lowers to TFL POW, which the
    TFLite converter rejects)."""
    d = a - b
    return (d * d).sum(-1)


def _radial(sq_dist: torch.Tensor) -> torch.Tensor:
    return sq_dist * torch.log(sq_dist + 1e-9)


class PivotedSolver(nn.Module):
    """Solves A X = B for a batch of small systems A [..., n, n], B [..., n, m]."""

    def __init__(self, n: int):
        super().__init__()
        eye = torch.eye(n)
        self.register_buffer("eye", eye, persistent=False)
        # below[j] masks rows >= j: the candidates for the j-th pivot.
        self.register_buffer("below", torch.triu(torch.ones(n, n)),
                             persistent=False)
        self.register_buffer("index", torch.arange(n, dtype=torch.float32), persistent=False)
        self.n = n

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        m = torch.cat([a, b], dim=-1)
        for j in range(self.n):
            e_j = self.eye[j]
            column = m[..., :, j].abs() * self.below[j]
            pivot = torch.argmax(column, dim=-1, keepdim=True).to(torch.float32)
            e_p = (self.index == pivot).to(m.dtype)  # one-hot of the pivot row
            # Swap rows j and p with a permutation matrix (identity when p == j).
            swap = (self.eye - torch.outer(e_j, e_j) - e_p.unsqueeze(-1) * e_p.unsqueeze(-2)
                    + e_j.unsqueeze(-1) * e_p.unsqueeze(-2) + e_p.unsqueeze(-1) * e_j.unsqueeze(-2))
            m = swap @ m
            row = m[..., j : j + 1, :] / m[..., j : j + 1, j : j + 1]
            factor = m[..., :, j : j + 1] - e_j.unsqueeze(-1)
            m = m - factor * row
        return m[..., :, self.n :]


class ThinPlateSpline(nn.Module):
    """K TPS transforms of P points each. `solve` fits the transforms that map driving keypoints
    onto source keypoints; `grids` evaluates them (plus the identity) on a size×size grid."""

    def __init__(self, num_tps: int, points: int, size: int):
        super().__init__()
        self.num_tps, self.points = num_tps, points
        self.solver = PivotedSolver(points + 3)
        grid = coordinate_grid(size)
        self.register_buffer("grid", grid, persistent=False)
        self.register_buffer("grid_h", torch.cat([grid, torch.ones_like(grid[:, :1])], dim=-1),
                             persistent=False)
        self.register_buffer("reg", torch.eye(points + 3) * REGULARIZATION, persistent=False)
        self.size = size

    def solve(self, kp_source: torch.Tensor, kp_driving: torch.Tensor) -> torch.Tensor:
        """[B,K*P,2] each → parameters [B,K,P+3,2] (P radial weights, then the affine part)."""
        b = kp_source.shape[0]
        d = kp_driving.view(b, self.num_tps, self.points, 2)
        s = kp_source.view(b, self.num_tps, self.points, 2)
        radial = _radial(squared_distance(d.unsqueeze(3), d.unsqueeze(2)))  # [B,K,P,P]
        affine = torch.cat([d, torch.ones_like(d[..., :1])], dim=-1)  # [B,K,P,3]
        top = torch.cat([radial, affine], dim=-1)
        # Zero blocks as `x * 0` of a same-shaped slice: `expand` would be a BROADCAST_TO op.
        bottom = torch.cat([affine.transpose(-1, -2), radial[..., :3, :3] * 0], dim=-1)
        lhs = torch.cat([top, bottom], dim=-2) + self.reg
        rhs = torch.cat([s, s[..., :3, :] * 0], dim=-2)
        return self.solver(lhs, rhs)

    def grids(self, params: torch.Tensor, kp_driving: torch.Tensor) -> torch.Tensor:
        """[B,K+1,size,size,2] sampling grids: the K transforms, then the identity (background)."""
        b = params.shape[0]
        d = kp_driving.view(b, self.num_tps, 1, self.points, 2)
        z = self.grid.view(1, 1, -1, 1, 2)
        radial = _radial(squared_distance(z, d))  # [B,K,N,P]
        weights, affine = params[:, :, : self.points], params[:, :, self.points :]
        moved = radial @ weights + self.grid_h @ affine  # [B,K,N,2]
        identity = moved[:, :1] * 0 + self.grid
        out = torch.cat([moved, identity], dim=1)
        return out.view(b, self.num_tps + 1, self.size, self.size, 2)


def heatmaps(kp: torch.Tensor, grid: torch.Tensor, size: int, variance: float) -> torch.Tensor:
    """Gaussian keypoint heatmaps [B,K,size,size] for kp [B,K,2] on `grid` [size*size,2]."""
    sq = squared_distance(grid.view(1, 1, -1, 2), kp.unsqueeze(2))
    return torch.exp(-0.5 * sq / variance).view(kp.shape[0], kp.shape[1], size, size)
