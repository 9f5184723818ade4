"""The eager host pipeline: source stage once per avatar, frame stage per driving frame.

This is the golden reference the exported artifacts are compared with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from mpkit.landmarks.face import FaceLandmarker, FaceTracker, Segmenter
from mpkit.landmarks.facial import facial_indices, facial_mask, to_unit
from mpkit.models import zoo
from mpkit.models.portrait import PortraitModel
from mpkit.pipeline.crop import Crop, face_crop
from mpkit.pipeline.inpaint import Inpainter, pseudo_background
from mpkit.pipeline.pose_bank import PoseBank


def even_indices(length: int, count: int) -> list[int]:
    """`count` indices spread evenly over `length` items, first and last included."""
    return np.linspace(0, length - 1, count).round().astype(int).tolist()


def facial_keypoints(points: np.ndarray, crop: Crop, resolution: int) -> np.ndarray:
    """The facial-keypoint subset of a face mesh, in the crop's [-1,1] coordinates."""
    return to_unit(crop.points_to_crop(points[facial_indices()], resolution),
                   resolution).astype(np.float32)


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """RGB uint8 [H,W,3] → float [1,3,H,W] in [0,1]."""
    return torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).float() / 255.0


def to_image(x: torch.Tensor) -> np.ndarray:
    return (x[0].permute(1, 2, 0).clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()


@dataclass
class Avatar:
    """Everything the frame stage needs about the source, computed once."""

    image: np.ndarray  # the 256² crop, RGB uint8
    source: torch.Tensor
    source_small: torch.Tensor
    masks: torch.Tensor  # [1,2,s,s] foreground, facial-keypoint mask
    background: torch.Tensor
    kp: torch.Tensor
    multiview: torch.Tensor  # the source warped to the pose bank's T poses, encoded
    faces_found: int


@dataclass
class Driving:
    """The driving video's crop and its first frame's keypoints (for relative motion)."""

    crop: Crop
    kp_initial: torch.Tensor


class Animator:
    """`runners` replaces components by name with other callables of the same I/O (tensors in,
    tuple of tensors out), e.g. exported artifacts run by their host runtime. The pose bank is
    the model's shipped one unless given."""

    def __init__(self, model: PortraitModel, inpainter: Inpainter | None = None,
                 runners: dict[str, Callable[..., tuple[torch.Tensor, ...]]] | None = None,
                 landmarker: FaceLandmarker | None = None, segmenter: Segmenter | None = None,
                 pose_bank: PoseBank | None = None):
        self.model = model.eval()
        self.cfg = model.cfg
        parts = {**model.components(), **(runners or {})}
        self.keypoints, self.dense_motion = parts["keypoints"], parts["dense_motion"]
        self.synthesis, self.multiview = parts["synthesis"], parts["multiview"]
        self.landmarker = landmarker or FaceLandmarker()
        self.segmenter = segmenter or Segmenter()
        self.inpainter = inpainter
        self.pose_bank = pose_bank or zoo.pose_bank(self.cfg.id)

    def _facial_kp(self, points: np.ndarray, crop: Crop) -> np.ndarray:
        return facial_keypoints(points, crop, self.cfg.resolution)

    @torch.no_grad()
    def prepare_source(self, image: np.ndarray, name: str = "source") -> Avatar:
        """The source stage, from the photo alone: crop, facial keypoints, masks, pseudo
        background, keypoints, and the T pseudo-multiview features (the source warped to the
        pose bank's poses)."""
        r, s = self.cfg.resolution, self.cfg.dense_motion.size
        face = self.landmarker.landmarks(image, name=name)
        crop = face_crop(face.points)
        cropped = crop.apply(image, r)
        facial = self._facial_kp(face.points, crop)
        foreground = self.segmenter.foreground(cropped)
        background = pseudo_background(cropped, foreground, self.inpainter)
        masks = np.stack([
            np.asarray(torch.nn.functional.interpolate(
                torch.from_numpy(foreground)[None, None], size=(s, s), mode="area")[0, 0]),
            facial_mask(facial, s),
        ])[None]
        source, masks = to_tensor(cropped), torch.from_numpy(masks)
        kp, _ = self.keypoints(source, torch.from_numpy(facial)[None])
        small, background = self.model.source_small(source), to_tensor(background)
        motions = [self.dense_motion(small, masks, kp, view[None])
                   for view in self.pose_bank.apply(kp)]
        stacked = [torch.cat(parts, dim=0) for parts in zip(*motions)]
        (multiview,) = self.multiview(source, background, *stacked)
        return Avatar(cropped, source, small, masks, background, kp, multiview, face.faces_found)

    def _drive_kp(self, frame_crop: np.ndarray, points: np.ndarray, crop: Crop) -> torch.Tensor:
        kp, _ = self.keypoints(to_tensor(frame_crop),
                               torch.from_numpy(self._facial_kp(points, crop))[None])
        return kp

    @torch.no_grad()
    def prepare_driving(self, avatar: Avatar, first: np.ndarray, name: str = "driving"
                        ) -> Driving:
        """The driving crop and reference keypoints, from the first driving frame alone (live
        camera driving knows no later frame)."""
        face = self.landmarker.landmarks(first, name=f"{name} frame 0")
        crop = face_crop(face.points)
        return Driving(crop, self._drive_kp(crop.apply(first, self.cfg.resolution), face.points,
                                            crop))

    @staticmethod
    def _relative(avatar: Avatar, driving: Driving, kp: torch.Tensor) -> torch.Tensor:
        """Relative motion transfer (FOMM/TPSMM): the source moves as the driving face moved
        since its first frame."""
        return avatar.kp + (kp - driving.kp_initial)

    @torch.no_grad()
    def frame(self, avatar: Avatar, driving: Driving, frame: np.ndarray, points: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
        """Frame stage: (the driving crop, the generated frame), RGB uint8 at 256²."""
        r = self.cfg.resolution
        frame_crop = driving.crop.apply(frame, r)
        kp = self._relative(avatar, driving, self._drive_kp(frame_crop, points, driving.crop))
        return frame_crop, self.render(avatar, kp)

    @torch.no_grad()
    def render(self, avatar: Avatar, kp_driving: torch.Tensor) -> np.ndarray:
        """dense_motion + synthesis: the avatar moved to `kp_driving`, RGB uint8 at 256²."""
        deformation, *occlusions = self.dense_motion(avatar.source_small, avatar.masks,
                                                     avatar.kp, kp_driving)
        (image,) = self.synthesis(avatar.source, avatar.background, avatar.multiview,
                                  deformation, *occlusions)
        return to_image(image)

    def run(self, avatar: Avatar, driving: Driving, frames: Iterable[np.ndarray],
            name: str = "driving") -> Iterator[tuple[np.ndarray, np.ndarray]]:
        tracker = FaceTracker(self.landmarker, name)
        for frame in frames:
            yield self.frame(avatar, driving, frame, tracker.update(frame).points)
