"""Face crops: the square region of a photo or video the model sees at 256²."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CROP_SCALE = 1.9  # crop side / face-mesh extent: head, hair and a little shoulder
CROP_LIFT = 0.08  # move the crop up by this fraction of its side (the mesh stops at the brows)


@dataclass(frozen=True)
class Crop:
    """An axis-aligned square: top-left corner and side, in source pixels."""

    x0: float
    y0: float
    side: float

    def apply(self, image: np.ndarray, size: int) -> np.ndarray:
        """The region resized to size² (area filter when shrinking; edges replicated)."""
        k = size / self.side
        step = k
        if k < 1:  # shrink the whole image with an area filter first, then cut without scaling
            image = cv2.resize(image, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
            step = 1.0
        m = np.array([[step, 0, -self.x0 * k], [0, step, -self.y0 * k]])
        return cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)

    def points_to_crop(self, points: np.ndarray, size: int) -> np.ndarray:
        """Image pixel (x, y) → crop pixel coordinates."""
        return (points[..., :2] - np.array([self.x0, self.y0])) * (size / self.side)


def face_crop(points: np.ndarray) -> Crop:
    """The crop around a face given its 468 mesh points (image pixels)."""
    lo, hi = points[:, :2].min(0), points[:, :2].max(0)
    side = float(max(hi - lo)) * CROP_SCALE
    cx, cy = (lo + hi) / 2
    cy -= CROP_LIFT * side
    return Crop(float(cx - side / 2), float(cy - side / 2), side)
