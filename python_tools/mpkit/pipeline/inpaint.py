"""Pseudo background: the source with its foreground removed and filled in.

The paper inpaints with LaMa, which cannot be had offline. The default here is a mask-aware
push-pull pyramid fill that the Kotlin core implements operation for operation
(`org.mpkit.core.Inpaint`, float32 in the same order; testdata/source_stage/ holds the shared
fixtures), so a photo picked on a phone gets the background training saw. Any object with
`inpaint(image, mask) -> image` can replace it (e.g. a learned inpainter).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

FOREGROUND_THRESHOLD = 0.5
DILATE_FRACTION = 0.03  # grow the foreground by this fraction of the side before filling
EMPTY_FILL = 128.0  # the value of every pixel when no pixel is known
_F = np.float32


class Inpainter(Protocol):
    def inpaint(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """image RGB uint8 [H,W,3], mask bool [H,W] (True = fill) → RGB uint8 [H,W,3]."""


def dilate(mask: np.ndarray, side: int) -> np.ndarray:
    """Square max filter of odd `side` on a bool mask (the window clipped at the border):
    rows first, then columns."""
    r = side // 2
    out = mask.copy()
    for axis in (1, 0):
        src, out = out, np.zeros_like(out)
        n = src.shape[axis]
        for d in range(-r, r + 1):
            lo, hi = max(0, -d), min(n, n - d)  # out[i] |= src[i + d] for i in [lo, hi)
            dst = [slice(None)] * 2
            dst[axis] = slice(lo, hi)
            sel = [slice(None)] * 2
            sel[axis] = slice(lo + d, hi + d)
            out[tuple(dst)] |= src[tuple(sel)]
    return out


def _pull(total: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One level down: sums of colour and of known-pixel counts over 2×2 blocks (a missing row or
    column at an odd border counts as nothing), added in the order (0,0) (0,1) (1,0) (1,1)."""
    h, w = count.shape
    ph, pw = (h + 1) // 2, (w + 1) // 2
    t = np.zeros((2 * ph, 2 * pw, total.shape[2]), _F)
    c = np.zeros((2 * ph, 2 * pw), _F)
    t[:h, :w], c[:h, :w] = total, count
    return (((t[0::2, 0::2] + t[0::2, 1::2]) + t[1::2, 0::2]) + t[1::2, 1::2],
            ((c[0::2, 0::2] + c[0::2, 1::2]) + c[1::2, 0::2]) + c[1::2, 1::2])


def _upsample_axis(x: np.ndarray, n: int, axis: int) -> np.ndarray:
    """Doubles `axis` to length `n`: child i is 3/4 of parent i//2 and 1/4 of its other
    neighbour (i//2 - 1 for even i, i//2 + 1 for odd), clamped at the border."""
    i = np.arange(n)
    p = i // 2
    q = np.clip(np.where(i % 2 == 0, p - 1, p + 1), 0, x.shape[axis] - 1)
    return _F(0.75) * np.take(x, p, axis) + _F(0.25) * np.take(x, q, axis)


def push_pull(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """float32 [H,W,C] with every masked pixel filled from the known ones: pull (mask-weighted
    2×2 means) until a level has no unknown pixel, then push back up, each level's unknown
    pixels taking the upsampled (width, then height) coarser level. Known pixels are kept."""
    count = (~mask).astype(_F)
    total = image.astype(_F) * count[..., None]
    levels = [(total, count)]
    while (levels[-1][1] == 0).any() and levels[-1][1].size > 1:
        levels.append(_pull(*levels[-1]))
    filled = None
    for total, count in reversed(levels):
        known = count[..., None] > 0
        mean = np.divide(total, count[..., None], out=np.zeros_like(total), where=known)
        if filled is None:
            up = np.full_like(total, EMPTY_FILL)
        else:
            up = _upsample_axis(_upsample_axis(filled, count.shape[1], 1), count.shape[0], 0)
        filled = np.where(known, mean, up)
    return filled


def to_uint8(x: np.ndarray) -> np.ndarray:
    """floor(x + 0.5) clamped to [0, 255]."""
    return np.clip(np.floor(x + _F(0.5)), 0, 255).astype(np.uint8)


class PushPullInpainter:
    def inpaint(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return to_uint8(push_pull(image, mask))


def dilation_side(height: int) -> int:
    return max(3, int(height * DILATE_FRACTION) | 1)


def background_mask(foreground: np.ndarray) -> np.ndarray:
    """The pixels to fill: the foreground (> FOREGROUND_THRESHOLD), dilated."""
    return dilate(foreground > FOREGROUND_THRESHOLD, dilation_side(foreground.shape[0]))


def pseudo_background(image: np.ndarray, foreground: np.ndarray,
                      inpainter: Inpainter | None = None) -> np.ndarray:
    """`image` with the (dilated) foreground region inpainted (push-pull by default)."""
    return (inpainter or PushPullInpainter()).inpaint(image, background_mask(foreground))
