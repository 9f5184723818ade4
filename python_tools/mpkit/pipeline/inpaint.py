"""Pseudo background: the source with its foreground removed and filled in.

The paper inpaints with LaMa, which cannot be had offline; the default here is OpenCV's Telea
inpainting. Any object with `inpaint(image, mask) -> image` can replace it (a learned inpainter).
"""

from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np

FOREGROUND_THRESHOLD = 0.5
DILATE_FRACTION = 0.03  # grow the foreground by this fraction of the side before filling


class Inpainter(Protocol):
    def inpaint(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """image RGB uint8 [H,W,3], mask bool [H,W] (True = fill) → RGB uint8 [H,W,3]."""


class OpenCVInpainter:
    def __init__(self, radius: int = 5):
        self.radius = radius

    def inpaint(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return cv2.inpaint(image, mask.astype(np.uint8) * 255, self.radius, cv2.INPAINT_TELEA)


def pseudo_background(image: np.ndarray, foreground: np.ndarray, inpainter: Inpainter) -> np.ndarray:
    """`image` with the (dilated) foreground region inpainted."""
    k = max(3, int(image.shape[0] * DILATE_FRACTION) | 1)
    mask = cv2.dilate((foreground > FOREGROUND_THRESHOLD).astype(np.uint8), np.ones((k, k), np.uint8))
    return inpainter.inpaint(image, mask.astype(bool))
