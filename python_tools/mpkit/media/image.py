"""Image I/O: RGB uint8 arrays, EXIF orientation applied, alpha dropped."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from mpkit.errors import MediaError
from mpkit.media.files import atomic_output


def read_image(path: str | Path) -> np.ndarray:
    """An RGB uint8 [H, W, 3] image; MediaError naming the file when it is missing or not an image."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such file")
    data = np.fromfile(path, dtype=np.uint8)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if bgr is None:
        raise MediaError(f"{path}: not a readable image (JPEG, PNG, BMP or WebP expected)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def write_image(path: str | Path, rgb: np.ndarray) -> None:
    path = Path(path)
    ok, data = cv2.imencode(path.suffix or ".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise MediaError(f"{path}: cannot encode an image with suffix {path.suffix!r}")
    with atomic_output(path) as tmp:
        tmp.write_bytes(data.tobytes())
