"""Golden fixtures of the frame-stage glue for the app's Kotlin core (testdata/pipeline/): real
photos and carphone frames in, every intermediate the glue computes out (the face mesh the
landmarker found, the crop box, the 256² crop, the facial keypoints in [-1, 1], relative motion).

    python -m mpkit.pipeline.golden [OUT_DIR]   # default: testdata/pipeline

The Kotlin tests reproduce them within the tolerances in `cases.json`; a Python test fails when
what this writes drifts from what is committed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from mpkit.landmarks.face import FaceLandmarker
from mpkit.landmarks.facial import facial_indices, to_unit
from mpkit.media.assets import asset_path
from mpkit.media.files import atomic_output
from mpkit.media.image import read_image, write_image
from mpkit.media.video import read_frames
from mpkit.pipeline.crop import face_crop

RESOLUTION = 256
PHOTO = "obama.jpg"  # a face larger than the crop: the shrink path
PHOTO_FACE_SIDE = 330  # px of crop side the photo is scaled to (> RESOLUTION)
CARPHONE_FRAMES = (0, 80)  # a small video frame: the enlarge path
# What the Kotlin side must meet: its bilinear weights are exact where OpenCV's are 1/32 steps,
# and the mesh is stored to 1/1000 px, which bounds the box and keypoint tolerances.
TOLERANCE = {"box_px": 5e-3, "crop_max_abs": 3, "crop_mean_abs": 0.5, "unit": 1e-4}


def _photo(landmarker: FaceLandmarker) -> np.ndarray:
    """The photo scaled so its crop side is PHOTO_FACE_SIDE, cut to the crop plus a margin so
    the fixture stays small (the cut is the fixture's input)."""
    import cv2

    image = read_image(asset_path(PHOTO))
    crop = face_crop(landmarker.landmarks(image, name=PHOTO).points)
    k = PHOTO_FACE_SIDE / crop.side
    image = cv2.resize(image, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    margin = 12
    x0, y0 = max(0, int(crop.x0 * k) - margin), max(0, int(crop.y0 * k) - margin)
    x1, y1 = int((crop.x0 + crop.side) * k) + margin, int((crop.y0 + crop.side) * k) + margin
    return np.ascontiguousarray(image[y0:y1, x0:x1])


def _inputs(landmarker: FaceLandmarker) -> list[tuple[str, np.ndarray]]:
    frames = list(read_frames(asset_path("carphone.mp4"), limit=max(CARPHONE_FRAMES) + 1))
    return [(Path(PHOTO).stem, _photo(landmarker))] + [
        (f"carphone_{i:03d}", frames[i]) for i in CARPHONE_FRAMES]


def write(out: Path) -> list[dict]:
    landmarker = FaceLandmarker()
    cases, kp = [], {}
    for name, image in _inputs(landmarker):
        points = landmarker.landmarks(image, name=name).points
        crop = face_crop(points)
        cropped = crop.apply(image, RESOLUTION)
        facial = to_unit(crop.points_to_crop(points[facial_indices()], RESOLUTION), RESOLUTION)
        write_image(out / f"{name}.png", image)
        write_image(out / f"{name}_crop.png", cropped)
        kp[name] = facial
        cases.append({"name": name, "image": f"{name}.png", "crop_image": f"{name}_crop.png",
                      "mesh": np.round(points[:, :2], 3).tolist(),
                      "crop": {"x0": crop.x0, "y0": crop.y0, "side": crop.side},
                      "facial_unit": facial.astype(np.float64).round(6).tolist()})
    # Relative motion: the source moves as the driving face moved since its first frame.
    source, first = kp[cases[0]["name"]], kp[f"carphone_{CARPHONE_FRAMES[0]:03d}"]
    for case in cases[1:]:
        case["relative_to_first"] = (source + (kp[case["name"]] - first)).round(6).tolist()
    document = {"resolution": RESOLUTION, "facial_indices": facial_indices().tolist(),
                "source": cases[0]["name"], "tolerance": TOLERANCE, "cases": cases}
    with atomic_output(out / "cases.json") as tmp:
        tmp.write_text(json.dumps(document, separators=(",", ":")))
    return cases


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("testdata/pipeline")
    target.mkdir(parents=True, exist_ok=True)
    for c in write(target):
        print(f"{target}/{c['image']}: crop {c['crop']}")
