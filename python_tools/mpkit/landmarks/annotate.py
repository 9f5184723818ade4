"""Landmarks of an image or a video: as records, or drawn onto the frames."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from mpkit.landmarks.face import FaceLandmarker, FaceLandmarks, FaceTracker
from mpkit.landmarks.facial import facial_indices
from mpkit.media.image import read_image, write_image
from mpkit.media.kind import is_video
from mpkit.media.video import read_frames, video_info, write_video


def draw(image: np.ndarray, face: FaceLandmarks) -> np.ndarray:
    """Mesh points in green, the 106 facial keypoints the model uses in red."""
    out = image.copy()
    radius = max(1, round(max(image.shape[:2]) / 400))
    facial = set(facial_indices().tolist())
    for i, (x, y, _) in enumerate(face.points):
        colour = (255, 40, 40) if i in facial else (40, 220, 40)
        cv2.circle(out, (int(round(x)), int(round(y))), radius, colour, -1, cv2.LINE_AA)
    return out


def record(face: FaceLandmarks, frame: int | None = None) -> dict:
    r = {"points": np.round(face.points, 2).tolist(), "presence": round(face.presence, 4),
         "faces_found": face.faces_found}
    return r if frame is None else {"frame": frame, "redetected": face.redetected, **r}


def landmarks_of(path: Path, landmarker: FaceLandmarker) -> Iterator[tuple[np.ndarray, FaceLandmarks]]:
    """(frame, landmarks) for an image (one pair) or every frame of a video (tracked)."""
    if not is_video(path):
        image = read_image(path)
        yield image, landmarker.landmarks(image, name=str(path))
        return
    tracker = FaceTracker(landmarker, name=str(path))
    for frame in read_frames(path):
        yield frame, tracker.update(frame)


def draw_to(path: Path, out: Path, landmarker: FaceLandmarker) -> int:
    """Draws the landmarks of `path` into `out` (image or mp4); returns the frame count."""
    pairs = landmarks_of(path, landmarker)
    if is_video(out):
        fps = video_info(path).fps if is_video(path) else 1.0
        return write_video(out, (draw(f, face) for f, face in pairs), fps)
    frame, face = next(pairs)
    write_image(out, draw(frame, face))
    return 1
