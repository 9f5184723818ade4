"""Animate a photo with a driving video into an mp4 (the eager host pipeline)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mpkit.media.image import read_image
from mpkit.media.video import read_frames, video_info, write_video
from mpkit.models.portrait import PortraitModel
from mpkit.pipeline.animator import Animator


@dataclass(frozen=True)
class AnimationResult:
    output: Path
    frames: int
    seconds: float
    trained: bool
    faces_in_source: int

    @property
    def render_fps(self) -> float:
        return self.frames / self.seconds


def stamp_untrained(image: np.ndarray) -> np.ndarray:
    """Marks a frame made with untrained weights, so it is never mistaken for a result."""
    out = image.copy()
    cv2.putText(out, "UNTRAINED", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 0, 0), 2,
                cv2.LINE_AA)
    return out


def animate_video(model: PortraitModel, source: Path, driving: Path, output: Path,
                  side_by_side: bool = False,
                  progress: Callable[[int, int], None] = lambda done, total: None
                  ) -> AnimationResult:
    """Source stage once, frame stage per driving frame; the mp4 has the driving frame count."""
    image = read_image(source)
    info = video_info(driving)
    animator = Animator(model)
    trained = bool(getattr(model, "trained", False))
    avatar = animator.prepare_source(image, name=str(source))
    drive = animator.prepare_driving(avatar, next(read_frames(driving, limit=1)),
                                     name=str(driving))
    start = time.perf_counter()
    done = 0

    def frames():
        nonlocal done
        for frame_crop, generated in animator.run(avatar, drive, read_frames(driving),
                                                  name=str(driving)):
            out = generated if trained else stamp_untrained(generated)
            if side_by_side:
                out = np.concatenate([avatar.image, frame_crop, out], axis=1)
            done += 1
            progress(done, info.frames)
            yield out

    count = write_video(output, frames(), info.fps)
    return AnimationResult(output, count, time.perf_counter() - start, trained,
                           avatar.faces_found)
