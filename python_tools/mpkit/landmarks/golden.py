"""Golden fixtures of face tracking for the app's Kotlin core (testdata/face_tracking/): one
sequence of real frames through mpkit's FaceTracker with the bundle's two face models (the
short-range detector and the mesh), and every intermediate of every frame: each model call's
input (channel means; a few whole inputs as PNG), its raw outputs (float32 in `outputs.bin`),
the detections after weighted NMS, the ROI each mesh call used, its 468 points, and the
tracker's decision (detected / tracked / lost).

    python -m mpkit.landmarks.golden [OUT_DIR]   # default: testdata/face_tracking

The sequence: carphone frames (a detection, then tracking), a blank frame (the mesh loses the
face, the detector finds none: lost, the ROI is kept), more carphone frames (tracked again), a
real photo on a wider canvas (the mesh rejects the old ROI: re-detected), carphone again
(re-detected). The Kotlin tests replay the stored outputs through the Kotlin post-processing and
meet the tolerances in `cases.json`; a Python test fails when what this writes drifts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np

from mpkit.errors import NoFaceError
from mpkit.landmarks.face import SHORT_RANGE, FaceLandmarker, FaceTracker, _detection_roi
from mpkit.landmarks.geometry import Roi
from mpkit.media.assets import asset_path
from mpkit.media.files import atomic_output
from mpkit.media.image import read_image, write_image
from mpkit.media.video import read_frames

HELPERS = {"face_detector": "face_detection_short_range.tflite",
           "face_mesh": "face_landmark.tflite"}
CARPHONE = (range(0, 10), range(10, 12), range(12, 14))  # around the blank frame and the photo
PHOTO = "obama.jpg"
PNG_INPUTS = (0, 1, 2, 13)  # frames whose model inputs are stored whole (else channel means)
# What the Kotlin side must meet. Its warp is OpenCV's fixed point (1/32 px, 15-bit weights),
# so the model inputs are exact (the channel means differ by summation order); the decoding is
# float64 where face.py's is partly float32, and the points are stored to 1e-4 px. Chained
# (the tracker's own ROIs, ~1e-4 px from face.py's), a few samples cross a 1/32 px step.
TOLERANCE = {"input_max_levels": 0, "input_mean_levels": 0, "input_channel_mean": 1e-9,
             "chained_input_max_levels": 8, "chained_input_mean_levels": 0.01,
             "chained_input_channel_mean": 1e-5,
             "box_px": 1e-3, "score": 1e-6, "roi_px": 1e-3, "roi_angle": 1e-5, "points_px": 1e-3}


class _Recorder:
    """A LiteRT interpreter that keeps each invoke's input and outputs in `calls`."""

    def __init__(self, model: str, net, calls: list):
        self.model, self._net, self._calls, self._input = model, net, calls, None
        self.get_input_details = net.get_input_details
        self.get_output_details = net.get_output_details

    def set_tensor(self, index, value):
        self._input = np.array(value)
        self._net.set_tensor(index, value)

    def invoke(self):
        self._net.invoke()
        outputs = [(d["name"], self._net.get_tensor(d["index"]).copy())
                    for d in self._net.get_output_details()]
        self._calls.append({"model": self.model, "input": self._input, "outputs": outputs})

    def get_tensor(self, index):
        return self._net.get_tensor(index)


class _Replay:
    """An interpreter that answers with one recorded call's outputs (face.py's own decoding)."""

    def __init__(self, call: dict):
        self._outputs = call["outputs"]

    def get_input_details(self):
        return [{"index": 0}]

    def get_output_details(self):
        return [{"index": i, "name": name} for i, (name, _) in enumerate(self._outputs)]

    def set_tensor(self, index, value):
        pass

    def invoke(self):
        pass

    def get_tensor(self, index):
        return self._outputs[index][1]


def _frames() -> list[tuple[str, np.ndarray]]:
    """The sequence, named."""
    video = list(read_frames(asset_path("carphone.mp4"), limit=CARPHONE[-1][-1] + 1))
    photo = cv2.resize(read_image(asset_path(PHOTO)), (160, 200), interpolation=cv2.INTER_AREA)
    canvas = np.full((240, 320, 3), 90, np.uint8)
    canvas[20:220, 150:310] = photo
    carphone = [[(f"carphone_{i:03d}", video[i]) for i in r] for r in CARPHONE]
    return [*carphone[0], ("blank", np.zeros_like(video[0])), *carphone[1],
            ("photo", canvas), *carphone[2]]


def _landmarker() -> FaceLandmarker:
    """What the app runs: the bundle's helpers (one short-range detector and the mesh)."""
    return FaceLandmarker(files={role: asset_path(name) for role, name in HELPERS.items()})


def _roi(r: Roi) -> dict:
    return {"cx": r.cx, "cy": r.cy, "size": r.size, "angle": r.angle}


def _means(x: np.ndarray) -> list[float]:
    return x.reshape(-1, x.shape[-1]).astype(np.float64).mean(0).tolist()


def _step(lm: FaceLandmarker, call: dict, frame: np.ndarray, roi: Roi | None, blob: list):
    """One model call's fixture (its outputs appended to `blob`), decoded by face.py itself;
    for a detector call also the ROI its largest face gives the mesh."""
    step = {"model": call["model"], "input": {"shape": list(call["input"].shape),
                                              "channel_mean": _means(call["input"])},
            "outputs": []}
    for name, value in call["outputs"]:
        step["outputs"].append({"name": name, "shape": list(value.shape),
                                "offset": sum(b.size for b in blob)})
        blob.append(value.astype("<f4").ravel())
    if call["model"] == "face_detector":
        found = FaceLandmarker._detect(frame, SHORT_RANGE.size, _Replay(call),
                                       SHORT_RANGE.anchors())
        step["detections"] = [{"box": list(d.box), "keypoints": d.keypoints.tolist(),
                               "score": d.score} for d in found]
        return step, (_detection_roi(found[0]) if found else None)
    mesh, lm._mesh = lm._mesh, _Replay(call)
    points, presence = lm.mesh(frame, roi)
    lm._mesh = mesh
    step.update(roi=_roi(roi), presence=presence, points=np.round(points, 4).tolist())
    return step, None


def write(out: Path) -> list[dict]:
    lm = _landmarker()
    calls: list[dict] = []
    lm._detectors = [(spec, _Recorder("face_detector", net, calls), anchors)
                     for spec, net, anchors in lm._detectors]
    lm._mesh = _Recorder("face_mesh", lm._mesh, calls)
    tracker = FaceTracker(lm, "golden")
    cases, blob = [], []
    for index, (name, frame) in enumerate(_frames()):
        before, calls[:] = tracker.roi, []
        try:
            decision = "detected" if tracker.update(frame).redetected else "tracked"
        except NoFaceError:
            decision = "lost"
        write_image(out / f"{name}.png", frame)
        steps, roi = [], before
        for k, call in enumerate(calls):
            step, found = _step(lm, call, frame, roi, blob)
            roi = found or roi
            if index in PNG_INPUTS:
                image = call["input"][0]
                image = (image + 1) * 127.5 if call["model"] == "face_detector" else image * 255
                step["input"]["png"] = f"{name}_{k}_{call['model']}.png"
                write_image(out / step["input"]["png"], np.round(image).astype(np.uint8))
            steps.append(step)
        cases.append({"name": name, "image": f"{name}.png", "decision": decision, "steps": steps,
                      "roi_next": _roi(tracker.roi) if tracker.roi else None})
    with atomic_output(out / "outputs.bin") as tmp:
        tmp.write_bytes(np.concatenate(blob).tobytes())
    document = {"helpers": HELPERS, "mesh_size": 192, "detector_size": SHORT_RANGE.size,
                "tolerance": TOLERANCE, "cases": cases}
    with atomic_output(out / "cases.json") as tmp:
        tmp.write_text(json.dumps(document, separators=(",", ":")))
    return cases


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("testdata/face_tracking")
    target.mkdir(parents=True, exist_ok=True)
    for c in write(target):
        print(f"{target}/{c['image']}: {c['decision']} ({len(c['steps'])} model calls)")
