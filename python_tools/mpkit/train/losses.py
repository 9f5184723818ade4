"""Training losses: reconstruction (L1 + multi-scale SSIM), keypoint equivariance, the
facial-knowledge loss and the dense-motion mask heads. The optional perceptual and adversarial
terms are in `adversarial.py`."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from mpkit.metrics.image import ssim_map

SSIM_SCALES = (1.0, 0.5, 0.25)


def multiscale_ssim_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    losses = []
    for scale in SSIM_SCALES:
        p = pred if scale == 1 else F.interpolate(pred, scale_factor=scale, mode="area")
        t = target if scale == 1 else F.interpolate(target, scale_factor=scale, mode="area")
        losses.append(1 - ssim_map(p, t).mean())
    return torch.stack(losses).mean()


def random_affine(batch: int, generator: torch.Generator, strength: float = 0.1) -> torch.Tensor:
    """[B,2,3] small random similarity transforms (rotation, scale, shift) in [-1,1] coords."""
    r = lambda: (torch.rand(batch, generator=generator) * 2 - 1) * strength  # noqa: E731
    angle, scale, tx, ty = r() * math.pi / 2, 1 + r(), r(), r()
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    return torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)


def apply_affine(theta: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    return points @ theta[:, :, :2].transpose(1, 2) + theta[:, :, 2].unsqueeze(1)


def equivariance_loss(detector, image: torch.Tensor, kp: torch.Tensor,
                      generator: torch.Generator) -> torch.Tensor:
    """Keypoints of a transformed image, mapped back, must land on the original keypoints.
    The transformed image samples the original at A(z), so its keypoints k' satisfy A(k') = k."""
    theta = random_affine(image.shape[0], generator)
    grid = F.affine_grid(theta, list(image.shape), align_corners=True)
    moved = F.grid_sample(image, grid, padding_mode="border", align_corners=True)
    return (apply_affine(theta, detector(moved)) - kp).abs().mean()


def facial_knowledge_loss(deformation: torch.Tensor, facial_driving: torch.Tensor,
                          facial_source: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The flow must carry each driving face-mesh point to the same point in the source:
    sampling the deformation grid at the driving points gives the source points."""
    grid = deformation.permute(0, 3, 1, 2)
    at = F.grid_sample(grid, facial_driving.unsqueeze(1), align_corners=True)  # [B,2,1,P]
    err = (at[:, :, 0].transpose(1, 2) - facial_source).abs().sum(-1)  # [B,P]
    return (err * weights).sum(-1).mean() / weights.sum()
