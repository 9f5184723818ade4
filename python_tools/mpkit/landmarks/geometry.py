"""Rotated square regions of interest and the affine maps between image and crop."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Roi:
    """A square region: centre and side in pixels; `angle` (radians) is the face's tilt in image
    coordinates (y down), i.e. the direction of the line from its right eye to its left eye."""

    cx: float
    cy: float
    size: float
    angle: float

    def to_crop(self, out: int) -> np.ndarray:
        """2×3 affine matrix mapping image pixels into an `out`×`out` crop of this region."""
        # Rotate by -angle about the centre (levelling the face), scale, move to the crop centre.
        rot = _rotation(-self.angle) * (out / self.size)
        shift = out / 2 - rot @ np.array([self.cx, self.cy])
        return np.concatenate([rot, shift[:, None]], axis=1)

    def crop(self, image: np.ndarray, out: int) -> np.ndarray:
        return cv2.warpAffine(image, self.to_crop(out), (out, out), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT)

    def from_crop(self, points: np.ndarray, out: int) -> np.ndarray:
        """Maps [N, 2+] crop coordinates back into the image (extra columns scaled by size)."""
        inv = cv2.invertAffineTransform(self.to_crop(out))
        xy = points[:, :2] @ inv[:, :2].T + inv[:, 2]
        rest = points[:, 2:] * (self.size / out)
        return np.concatenate([xy, rest], axis=1)


def roi_from_points(points: np.ndarray, a: np.ndarray, b: np.ndarray, scale: float) -> Roi:
    """Square ROI around `points`, rotated so the line a→b is horizontal, enlarged by `scale`."""
    angle = math.atan2(b[1] - a[1], b[0] - a[0])
    upright = points[:, :2] @ _rotation(-angle).T
    lo, hi = upright.min(0), upright.max(0)
    centre = _rotation(angle) @ ((lo + hi) / 2)
    size = float(max(hi - lo)) * scale
    return Roi(float(centre[0]), float(centre[1]), size, angle)


def _rotation(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])
