"""Identity distance between faces: dlib's ResNet face embedding (128-d; the model files come
from the face-recognition-models package as assets), compared by Euclidean distance. dlib's
same-person threshold is 0.6. Needs the `identity` extra (dlib-bin)."""

from __future__ import annotations

import numpy as np

from mpkit.errors import DependencyError
from mpkit.media.assets import asset_path

SAME_PERSON = 0.6
MEANING = (f"dlib ResNet embedding distance to the real frame (self) or the source photo "
           f"(cross); under {SAME_PERSON} = same person for dlib")


class IdentityEmbedder:
    def __init__(self):
        try:
            import dlib
        except ImportError as e:
            raise DependencyError("identity distance needs dlib: pip install 'mpkit[identity]' "
                                  "(the dlib-bin wheel)") from e
        self._dlib = dlib
        self._shape = dlib.shape_predictor(str(asset_path("shape_predictor_5_face_landmarks.dat")))
        self._net = dlib.face_recognition_model_v1(
            str(asset_path("dlib_face_recognition_resnet_model_v1.dat")))

    def embed(self, image: np.ndarray, points: np.ndarray) -> np.ndarray:
        """The embedding of the face in RGB `image` whose landmarks (pixels, [N,2+]) are
        `points`: their bounding box stands in for dlib's detector box."""
        (x0, y0), (x1, y1) = points[:, :2].min(0), points[:, :2].max(0)
        box = self._dlib.rectangle(int(x0), int(y0), int(x1), int(y1))
        face = np.ascontiguousarray(image)
        return np.array(self._net.compute_face_descriptor(face, self._shape(face, box)))


def identity_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))
