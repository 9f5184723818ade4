"""Image quality: PSNR, SSIM and L1 between RGB uint8 images (or [0,1] tensors)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def _unit(x) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.array(x)).permute(2, 0, 1).unsqueeze(0).float() / 255
    return x


PSNR_CAP_DB = 100.0  # identical images; keeps every figure finite (JSON has no infinity)


def psnr(a, b, mask: np.ndarray | None = None) -> float:
    """PSNR in dB; with a boolean [H,W] `mask`, over the masked pixels only."""
    err = ((_unit(a) - _unit(b)) ** 2).mean(1)  # [B,H,W]
    mse = float(err.mean() if mask is None else err[:, torch.from_numpy(mask)].mean())
    return PSNR_CAP_DB if mse == 0 else min(PSNR_CAP_DB, 10 * np.log10(1.0 / mse))


def l1(a, b) -> float:
    return float((_unit(a) - _unit(b)).abs().mean())


def ssim_map(a: torch.Tensor, b: torch.Tensor, window: int = 7) -> torch.Tensor:
    """SSIM with a uniform window, per pixel, for images in [0,1]."""
    c1, c2 = 0.01**2, 0.03**2
    pool = lambda x: F.avg_pool2d(x, window, 1, window // 2, count_include_pad=False)  # noqa: E731
    mu_a, mu_b = pool(a), pool(b)
    var_a, var_b = pool(a * a) - mu_a**2, pool(b * b) - mu_b**2
    cov = pool(a * b) - mu_a * mu_b
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))


def ssim(a, b) -> float:
    return float(ssim_map(_unit(a), _unit(b)).mean())
