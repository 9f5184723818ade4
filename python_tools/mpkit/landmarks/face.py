"""BlazeFace short-range detection + the 468-point face mesh, run directly with LiteRT.

The `.tflite` files are MediaPipe's (from the mediapipe 0.10.21 wheel, see `mpkit assets`). The
pre- and post-processing follows MediaPipe's face_detection_short_range and face_landmark graphs:
letterboxed 128² input in [-1, 1], SSD anchors (strides 8/16/16/16), weighted NMS; a 1.5× ROI
rotated level with the eyes, 192² crop in [0, 1], 468 (x, y, z) points and a face-presence flag.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from mpkit.errors import NoFaceError
from mpkit.landmarks.geometry import Roi, roi_from_points
from mpkit.media.assets import asset_path

MESH_SIZE = 192
SEGMENTER_SIZE = 256
MIN_DETECTION_SCORE = 0.5
MIN_PRESENCE = 0.5
NMS_IOU = 0.3
ROI_SCALE = 1.5
# Mesh indices MediaPipe uses to level the tracking ROI (outer eye corners).
RIGHT_EYE_CORNER, LEFT_EYE_CORNER = 33, 263


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels
    keypoints: np.ndarray  # [6, 2]: right eye, left eye, nose, mouth, right ear, left ear
    score: float

    @property
    def area(self) -> float:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])


@dataclass(frozen=True)
class FaceLandmarks:
    points: np.ndarray  # [468, 3] image pixels (x, y) and relative depth z
    presence: float
    roi: Roi
    faces_found: int = 1  # faces the detector saw when this face was picked (largest first)
    redetected: bool = field(default=True)


@dataclass(frozen=True)
class _DetectorSpec:
    """One BlazeFace model: its file, input side and SSD anchor layout (stride, anchors per cell)."""

    asset: str
    size: int
    layers: tuple[tuple[int, int], ...]

    def anchors(self) -> np.ndarray:
        """[N, 2] normalized anchor centres, in the order the model emits its boxes."""
        out = []
        for stride, per_cell in self.layers:
            n = self.size // stride
            for y in range(n):
                for x in range(n):
                    out += [((x + 0.5) / n, (y + 0.5) / n)] * per_cell
        return np.array(out, dtype=np.float32)


# Short range (faces within ~2 m) first; full range finds the small faces of group photos.
SHORT_RANGE = _DetectorSpec("face_detection_short_range.tflite", 128, ((8, 2), (16, 6)))
FULL_RANGE = _DetectorSpec("face_detection_full_range_sparse.tflite", 192, ((4, 1),))


def _interpreter(path: Path, threads: int):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path), num_threads=threads)
    it.allocate_tensors()
    return it


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x0, y0 = np.maximum(a[0], b[:, 0]), np.maximum(a[1], b[:, 1])
    x1, y1 = np.minimum(a[2], b[:, 2]), np.minimum(a[3], b[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda r: (r[..., 2] - r[..., 0]) * (r[..., 3] - r[..., 1])  # noqa: E731
    return inter / (area(a) + area(b) - inter + 1e-9)


def _weighted_nms(boxes: np.ndarray, kps: np.ndarray, scores: np.ndarray):
    """MediaPipe's weighted NMS: overlapping detections are averaged, weighted by score."""
    order = np.argsort(-scores)
    out = []
    while order.size:
        overlap = _iou(boxes[order[0]], boxes[order]) > NMS_IOU
        members, order = order[overlap], order[~overlap]
        w = scores[members][:, None]
        box = (boxes[members] * w).sum(0) / w.sum()
        kp = (kps[members] * w[:, :, None]).sum(0) / w.sum()
        out.append((box, kp, float(scores[members[0]])))
    return out


class FaceLandmarker:
    """Detects faces and their 468 mesh points in RGB uint8 images."""

    def __init__(self, threads: int = 1, files: dict[str, Path] | None = None):
        """`files` (a bundle's helpers by role: face_detector, face_mesh) loads what the app
        ships, its one short-range detector; by default both detectors and the mesh come from
        the asset cache."""
        if files:
            detectors = [(SHORT_RANGE, files["face_detector"])]
            mesh = files["face_mesh"]
        else:
            detectors = [(spec, asset_path(spec.asset)) for spec in (SHORT_RANGE, FULL_RANGE)]
            mesh = asset_path("face_landmark.tflite")
        self._detectors = [(spec, _interpreter(path, threads), spec.anchors())
                           for spec, path in detectors]
        self._mesh = _interpreter(mesh, threads)

    def detect(self, image: np.ndarray) -> list[Detection]:
        """All faces, largest first: the short-range detector, else the full-range one."""
        for spec, net, anchors in self._detectors:
            faces = self._detect(image, spec.size, net, anchors)
            if faces:
                return faces
        return []

    @staticmethod
    def _detect(image: np.ndarray, size: int, det, anchors: np.ndarray) -> list[Detection]:
        h, w = image.shape[:2]
        side = max(h, w)
        # Letterbox: centre the image on a square canvas, then resize to the model's input.
        pad_x, pad_y = (side - w) / 2, (side - h) / 2
        k = size / side
        m = np.array([[k, 0, pad_x * k], [0, k, pad_y * k]])
        x = cv2.warpAffine(image, m, (size, size),
                           flags=cv2.INTER_AREA if side > size else cv2.INTER_LINEAR)
        det.set_tensor(det.get_input_details()[0]["index"], (x.astype(np.float32) / 127.5 - 1)[None])
        det.invoke()
        outputs = [det.get_tensor(d["index"])[0] for d in det.get_output_details()]
        raw = next(o for o in outputs if o.shape[-1] == 16)
        logits = next(o for o in outputs if o.shape[-1] == 1)[:, 0]
        scores = 1 / (1 + np.exp(-np.clip(logits, -80, 80)))
        keep = scores >= MIN_DETECTION_SCORE
        if not keep.any():
            return []
        raw, scores, anchors = raw[keep], scores[keep], anchors[keep]
        centre = raw[:, :2] / size + anchors
        half = raw[:, 2:4] / size / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        kps = raw[:, 4:16].reshape(-1, 6, 2) / size + anchors[:, None]
        # Back from the normalized letterboxed square to image pixels.
        to_px = lambda v: v * side - np.array([pad_x, pad_y])  # noqa: E731
        found = []
        for box, kp, score in _weighted_nms(boxes, kps, scores):
            b = np.concatenate([to_px(box[:2]), to_px(box[2:])])
            found.append(Detection(tuple(float(v) for v in b), to_px(kp), score))
        return sorted(found, key=lambda d: -d.area)

    def mesh(self, image: np.ndarray, roi: Roi) -> tuple[np.ndarray, float]:
        """468 points (image pixels) inside `roi`, and the face-presence probability."""
        crop = roi.crop(image, MESH_SIZE).astype(np.float32) / 255.0
        net = self._mesh
        net.set_tensor(net.get_input_details()[0]["index"], crop[None])
        net.invoke()
        outs = {d["name"]: net.get_tensor(d["index"]) for d in net.get_output_details()}
        pts = outs["conv2d_21"].reshape(468, 3)
        presence = float(1 / (1 + math.exp(-float(outs["conv2d_31"].reshape(())))))
        return roi.from_crop(pts, MESH_SIZE), presence

    def landmarks(self, image: np.ndarray, name: str = "image") -> FaceLandmarks:
        """The largest face's landmarks; NoFaceError naming `name` when there is none."""
        faces = self.detect(image)
        if not faces:
            raise NoFaceError(f"{name}: no face found")
        points, presence = self.mesh(image, _detection_roi(faces[0]))
        if presence < MIN_PRESENCE:
            raise NoFaceError(f"{name}: a face was detected but the face mesh rejected it "
                              f"(presence {presence:.2f})")
        return FaceLandmarks(points, presence, _tracking_roi(points), faces_found=len(faces))

    def track(self, frames: Iterable[np.ndarray], name: str = "video") -> Iterator[FaceLandmarks]:
        tracker = FaceTracker(self, name)
        for frame in frames:
            yield tracker.update(frame)


class FaceTracker:
    """Landmarks frame after frame: the next ROI comes from the previous landmarks, and the
    detector runs again only when the mesh loses the face."""

    def __init__(self, landmarker: FaceLandmarker, name: str = "video"):
        self.landmarker, self.name = landmarker, name
        self.roi: Roi | None = None
        self.index = 0

    def update(self, frame: np.ndarray) -> FaceLandmarks:
        """The frame's landmarks; NoFaceError names the frame (counting every frame given)."""
        try:
            result = None
            if self.roi is not None:
                points, presence = self.landmarker.mesh(frame, self.roi)
                if presence >= MIN_PRESENCE:
                    result = FaceLandmarks(points, presence, self.roi, redetected=False)
            if result is None:
                result = self.landmarker.landmarks(frame, name=f"{self.name} frame {self.index}")
            self.roi = _tracking_roi(result.points)
            return result
        finally:
            self.index += 1


def _detection_roi(d: Detection) -> Roi:
    """MediaPipe's detection → ROI: box centre, longer side × 1.5, level with the eyes."""
    right_eye, left_eye = d.keypoints[0], d.keypoints[1]
    angle = math.atan2(left_eye[1] - right_eye[1], left_eye[0] - right_eye[0])
    cx, cy = (d.box[0] + d.box[2]) / 2, (d.box[1] + d.box[3]) / 2
    size = max(d.box[2] - d.box[0], d.box[3] - d.box[1]) * ROI_SCALE
    return Roi(cx, cy, size, angle)


def _tracking_roi(points: np.ndarray) -> Roi:
    return roi_from_points(points, points[RIGHT_EYE_CORNER], points[LEFT_EYE_CORNER], ROI_SCALE)


class Segmenter:
    """MediaPipe selfie segmentation: foreground probability of a person in an RGB image."""

    def __init__(self, threads: int = 1, path: Path | None = None):
        self._net = _interpreter(path or asset_path("selfie_segmentation.tflite"), threads)

    def foreground(self, image: np.ndarray) -> np.ndarray:
        """[H, W] float32 foreground probability in [0, 1]."""
        h, w = image.shape[:2]
        x = cv2.resize(image, (SEGMENTER_SIZE, SEGMENTER_SIZE), interpolation=cv2.INTER_AREA)
        net = self._net
        net.set_tensor(net.get_input_details()[0]["index"], (x.astype(np.float32) / 255.0)[None])
        net.invoke()
        mask = net.get_tensor(net.get_output_details()[0]["index"])[0, :, :, 0]
        return cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR).clip(0, 1)
