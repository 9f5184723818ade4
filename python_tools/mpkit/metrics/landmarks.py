"""Landmark-based motion metrics on face-mesh points (pixels of the 256² crop)."""

from __future__ import annotations

import cv2
import numpy as np


def landmark_distance(a: np.ndarray, b: np.ndarray) -> float:
    """AKD-style: mean Euclidean distance between corresponding points [N,2+]."""
    return float(np.linalg.norm(a[:, :2] - b[:, :2], axis=1).mean())


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """[2, 3] similarity (Procrustes) that best fits points `src` onto `dst`, as OpenCV's
    warpAffine takes it: x' = m[:, :2] @ x + m[:, 2]."""
    s, d = src[:, :2], dst[:, :2]
    ms, md = s.mean(0), d.mean(0)
    s0, d0 = s - ms, d - md
    u, sig, vt = np.linalg.svd(s0.T @ d0)
    sign = np.sign(np.linalg.det(u @ vt))
    fix = np.diag([1.0, sign])
    linear = u @ fix @ vt * ((sig * np.diag(fix)).sum() / (s0**2).sum())
    return np.concatenate([linear.T, (md - ms @ linear)[:, None]], axis=1)


def align_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """`src` moved by the similarity transform (Procrustes) that best fits it onto `dst`."""
    m = similarity_transform(src, dst)
    return src[:, :2] @ m[:, :2].T + m[:, 2]


def expression_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Landmark distance after removing pose and scale: how far the expressions differ."""
    return landmark_distance(align_similarity(a, b), b)


def face_region(mesh: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Boolean [H,W] mask of the face: the convex hull of the face-mesh points."""
    mask = np.zeros(shape, np.uint8)
    hull = cv2.convexHull(np.round(mesh[:, :2]).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)
    return mask.astype(bool)


# Face-mesh points: inner lips at the centre (upper, lower), mouth corners, outer eye corners.
_LIPS_INNER, _MOUTH_CORNERS, _EYE_CORNERS = (13, 14), (61, 291), (33, 263)


def mouth_shape(mesh: np.ndarray) -> np.ndarray:
    """[opening, width] of the mouth, in units of the outer-eye-corner distance (pose-free up to
    head rotation): the opening is the inner-lip gap, the width grows with a smile."""
    eyes = np.linalg.norm(mesh[_EYE_CORNERS[0], :2] - mesh[_EYE_CORNERS[1], :2])
    gap = np.linalg.norm(mesh[_LIPS_INNER[0], :2] - mesh[_LIPS_INNER[1], :2])
    width = np.linalg.norm(mesh[_MOUTH_CORNERS[0], :2] - mesh[_MOUTH_CORNERS[1], :2])
    return np.array([gap, width]) / eyes


def mouth_error(a: np.ndarray, b: np.ndarray) -> float:
    """How far mesh `a`'s mouth opening and width are from `b`'s: the sum of both differences,
    in percent of the eye-corner distance."""
    return float(np.abs(mouth_shape(a) - mouth_shape(b)).sum() * 100)
