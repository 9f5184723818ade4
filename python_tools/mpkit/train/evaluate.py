"""Evaluation with baselines in the same run.

Self-reenactment: the source is a clip's anchor frame, the driving frames follow it (held-out
frames, never trained on: `eval_plan`), and each output is compared with the real frame, whole and inside the real
face (the convex hull of its face mesh). Cross-reenactment: a photo driven by another person's
clip, where only motion can be compared (pose-free landmark distance).
Baselines: identity copy (the output is the source) and any further models (the neural-keypoints-
only ablation), run on exactly the same frames. With an `IdentityEmbedder`, each generated face's
dlib identity distance to the real frame (self) or to the source photo (cross) is measured too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from mpkit.errors import NoFaceError
from mpkit.landmarks.face import FaceLandmarker
from mpkit.metrics.identity import IdentityEmbedder, identity_distance
from mpkit.metrics.image import l1, psnr, ssim
from mpkit.metrics.landmarks import (expression_distance, face_region, landmark_distance,
                                     mouth_error, mouth_shape)
from mpkit.models.portrait import PortraitModel
from mpkit.pipeline.animator import Animator
from mpkit.train.eval_plan import Clip

IDENTITY = "identity copy"


@dataclass
class MethodRun:
    name: str
    frames: list[np.ndarray] = field(default_factory=list)
    per_frame: dict[str, list[float]] = field(default_factory=dict)

    def summary(self) -> dict[str, float]:
        out = {k: _mean(v) for k, v in self.per_frame.items()}
        return {k: round(v, 4) for k, v in out.items()}


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _animate(model: PortraitModel, source: np.ndarray, clip: Clip
             ) -> tuple[np.ndarray, list[np.ndarray], list]:
    """(source crop, driving crops, generated frames) for the clip's driven frames, motion
    measured from its anchor."""
    animator = Animator(model)
    avatar = animator.prepare_source(source, name=f"{clip.name} source")
    drive = animator.prepare_driving(avatar, clip.anchor, name=clip.name)
    pairs = list(animator.run(avatar, drive, clip.frames, name=clip.name))
    return avatar.image, [p[0] for p in pairs], [p[1] for p in pairs]


class _Faces:
    """Each image's face mesh and identity embedding, computed once per image object within a
    section (generated frames are measured against several figures; the identity copy and the
    cross-reenactment source repeat one image)."""

    def __init__(self, embedder: IdentityEmbedder | None):
        self.landmarker, self.embedder = FaceLandmarker(), embedder
        self._meshes: dict[int, np.ndarray | None] = {}
        self._embeddings: dict[int, np.ndarray | None] = {}

    def mesh(self, image: np.ndarray) -> np.ndarray | None:
        if id(image) not in self._meshes:
            try:
                self._meshes[id(image)] = self.landmarker.landmarks(image).points
            except NoFaceError:
                self._meshes[id(image)] = None
        return self._meshes[id(image)]

    def embedding(self, image: np.ndarray) -> np.ndarray | None:
        if id(image) not in self._embeddings:
            mesh = self.mesh(image)
            self._embeddings[id(image)] = (None if mesh is None
                                           else self.embedder.embed(image, mesh))
        return self._embeddings[id(image)]


def _motion_metrics(run: MethodRun, reference: list[np.ndarray], faces: _Faces,
                    compare_pose: bool) -> None:
    """Landmark metrics of each generated frame against the reference frame's landmarks."""
    found, lmd, exd, mouth = [], [], [], []
    for gen, ref in zip(run.frames, reference):
        mesh, ref_mesh = faces.mesh(gen), faces.mesh(ref)
        found.append(float(mesh is not None))
        ok = mesh is not None and ref_mesh is not None
        lmd.append(landmark_distance(mesh, ref_mesh) if ok else math.nan)
        exd.append(expression_distance(mesh, ref_mesh) if ok else math.nan)
        mouth.append(mouth_error(mesh, ref_mesh) if ok else math.nan)
    run.per_frame["face_found"] = found
    if compare_pose:
        run.per_frame["landmark_distance_px"] = lmd
    run.per_frame["expression_distance_px"] = exd
    run.per_frame["mouth_error_pct"] = mouth


def _identity_metrics(run: MethodRun, reference: list[np.ndarray], faces: _Faces) -> None:
    if faces.embedder is None:
        return
    out = []
    for gen, ref in zip(run.frames, reference):
        a, b = faces.embedding(gen), faces.embedding(ref)
        out.append(math.nan if a is None or b is None else identity_distance(a, b))
    run.per_frame["identity_distance"] = out


def self_reenactment(models: dict[str, PortraitModel], clip: Clip,
                     identity: IdentityEmbedder | None = None
                     ) -> tuple[list[np.ndarray], dict[str, MethodRun]]:
    """The clip's anchor animated by its driven frames: the real frames and, per method, its
    frames and per-frame metrics against them."""
    runs: dict[str, MethodRun] = {}
    real: list[np.ndarray] = []
    for name, model in models.items():
        source_crop, real, generated = _animate(model, clip.anchor, clip)
        runs[name] = MethodRun(name, generated)
    runs[IDENTITY] = MethodRun(IDENTITY, [source_crop] * len(real))
    faces = _Faces(identity)
    regions = [None if (m := faces.mesh(f)) is None else face_region(m, f.shape[:2])
               for f in real]
    for run in runs.values():
        run.per_frame["psnr_db"] = [psnr(g, r) for g, r in zip(run.frames, real)]
        run.per_frame["face_psnr_db"] = [math.nan if m is None else psnr(g, r, m)
                                         for g, r, m in zip(run.frames, real, regions)]
        run.per_frame["ssim"] = [ssim(g, r) for g, r in zip(run.frames, real)]
        run.per_frame["l1"] = [l1(g, r) for g, r in zip(run.frames, real)]
        _motion_metrics(run, real, faces, compare_pose=True)
        _identity_metrics(run, real, faces)
        run.per_frame["flicker"] = _flicker(run.frames, real, clip.consecutive)
    return real, runs


def cross_reenactment(models: dict[str, PortraitModel], photo: np.ndarray, clip: Clip,
                      identity: IdentityEmbedder | None = None
                      ) -> tuple[list[np.ndarray], dict[str, MethodRun]]:
    """A photo driven by another person's clip: motion metrics against the driving frames."""
    runs: dict[str, MethodRun] = {}
    driving: list[np.ndarray] = []
    for name, model in models.items():
        source_crop, driving, generated = _animate(model, photo, clip)
        runs[name] = MethodRun(name, generated)
    runs[IDENTITY] = MethodRun(IDENTITY, [source_crop] * len(driving))
    faces = _Faces(identity)
    for run in runs.values():
        _motion_metrics(run, driving, faces, compare_pose=False)
        _identity_metrics(run, [source_crop] * len(driving), faces)
    return driving, runs


def widest_mouth(frames: list[np.ndarray]) -> int:
    """The index of the frame whose mouth is open widest (0 if no face is found): the card's
    still shows it, the hardest frame for reproducing the driving expression."""
    landmarker, openings = FaceLandmarker(), []
    for frame in frames:
        try:
            openings.append(mouth_shape(landmarker.landmarks(frame).points)[0])
        except NoFaceError:
            openings.append(-1.0)
    return int(np.argmax(openings))


def _flicker(generated: list[np.ndarray], real: list[np.ndarray], consecutive: list[bool]
             ) -> list[float]:
    """Per frame that follows its predecessor in the video: how much the generated
    frame-to-frame change departs from the real one (mean absolute difference of temporal
    differences, 0–255 scale)."""
    out = [math.nan]
    for t in range(1, len(real)):
        if not consecutive[t]:
            out.append(math.nan)
            continue
        dg = generated[t].astype(np.float32) - generated[t - 1]
        dr = real[t].astype(np.float32) - real[t - 1]
        out.append(float(np.abs(dg - dr).mean()))
    return out
