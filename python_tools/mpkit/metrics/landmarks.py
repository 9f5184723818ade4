"""Landmark-based motion metrics on face-mesh points (pixels of the 256² crop)."""

from __future__ import annotations

import cv2
import numpy as np


def landmark_distance(a: np.ndarray, b: np.ndarray) -> float:
    """AKD-style: mean Euclidean distance between corresponding points [N,2+]."""
    return float(np.linalg.norm(a[:, :2] - b[:, :2], axis=1).mean())


def align_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """`src` moved by the similarity transform (Procrustes) that best fits it onto `dst`."""
    s, d = src[:, :2], dst[:, :2]
    ms, md = s.mean(0), d.mean(0)
    s0, d0 = s - ms, d - md
    u, sig, vt = np.linalg.svd(s0.T @ d0)
    sign = np.sign(np.linalg.det(u @ vt))
    fix = np.diag([1.0, sign])
    rot = u @ fix @ vt
    scale = (sig * np.diag(fix)).sum() / (s0**2).sum()
    return s0 @ rot * scale + md


def expression_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Landmark distance after removing pose and scale: how far the expressions differ."""
    return landmark_distance(align_similarity(a, b), b)


def face_region(mesh: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Boolean [H,W] mask of the face: the convex hull of the face-mesh points."""
    mask = np.zeros(shape, np.uint8)
    hull = cv2.convexHull(np.round(mesh[:, :2]).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)
    return mask.astype(bool)
