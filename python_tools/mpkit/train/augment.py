"""Appearance-knowledge augmentation for training batches (tensors in [0,1], NCHW)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mpkit.train.losses import random_affine

IMAGE_KEYS = ("image", "background")


def color_jitter(batches: list[dict[str, torch.Tensor]], generator: torch.Generator,
                 strength: float = 0.15) -> list[dict[str, torch.Tensor]]:
    """The same random per-channel gain and offset for every batch (source, driving, views), so
    a pair stays consistent while the colours seen in training vary."""
    b = batches[0]["image"].shape[0]
    gain = 1 + (torch.rand(b, 3, 1, 1, generator=generator) * 2 - 1) * strength
    bias = (torch.rand(b, 1, 1, 1, generator=generator) * 2 - 1) * strength / 3
    out = []
    for batch in batches:
        reps = batch["image"].shape[0] // b
        g, o = gain.repeat_interleave(reps, 0), bias.repeat_interleave(reps, 0)
        out.append({**batch, **{k: (batch[k] * g + o).clamp(0, 1) for k in IMAGE_KEYS}})
    return out


def synthetic_motion(batch: dict[str, torch.Tensor], generator: torch.Generator,
                     repeats: int = 1, strength: float = 0.12) -> dict[str, torch.Tensor]:
    """A pseudo driving frame of known motion from a still: every sample (repeated `repeats`
    times) moved by a random similarity transform; facial keypoints move exactly with it."""
    src = {k: v.repeat_interleave(repeats, 0) for k, v in batch.items()}
    theta = random_affine(src["image"].shape[0], generator, strength)
    grid = F.affine_grid(theta, list(src["image"].shape), align_corners=True)
    small = F.affine_grid(theta, list(src["masks"].shape), align_corners=True)
    moved = {k: F.grid_sample(src[k], grid, padding_mode="border", align_corners=True)
             for k in IMAGE_KEYS}
    masks = F.grid_sample(src["masks"], small, padding_mode="zeros", align_corners=True)
    # The moved image samples the still at A(z): a point p of the still appears at A⁻¹(p).
    linear, shift = theta[:, :, :2], theta[:, :, 2]
    inverse = torch.linalg.inv(linear)
    facial = (src["facial"] - shift.unsqueeze(1)) @ inverse.transpose(1, 2)
    return {**moved, "masks": masks, "facial": facial}
