"""The face-tracking fixtures the Kotlin core is tested against (testdata/face_tracking) are what
mpkit's FaceTracker computes today, and they exercise detection, tracking, loss and re-detection."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mpkit.landmarks import golden
from mpkit.media.image import read_image

FIXTURES = Path(__file__).resolve().parents[2] / "testdata" / "face_tracking"


def _outputs(folder: Path, step: dict) -> list[np.ndarray]:
    blob = np.fromfile(folder / "outputs.bin", dtype="<f4")
    return [blob[o["offset"]:o["offset"] + int(np.prod(o["shape"]))] for o in step["outputs"]]


def test_the_committed_fixtures_are_what_mpkit_writes_now(asset, tmp_path):
    golden.write(tmp_path)
    want = json.loads((FIXTURES / "cases.json").read_text())
    got = json.loads((tmp_path / "cases.json").read_text())
    assert {k: v for k, v in got.items() if k != "cases"} == {
        k: v for k, v in want.items() if k != "cases"}
    assert [(c["name"], c["decision"]) for c in got["cases"]] == [
        (c["name"], c["decision"]) for c in want["cases"]]
    assert {c["decision"] for c in got["cases"]} == {"detected", "tracked", "lost"}
    assert sum(f.stat().st_size for f in FIXTURES.iterdir()) < 2 << 20
    for g, w in zip(got["cases"], want["cases"], strict=True):
        assert read_image(tmp_path / g["image"]).tobytes() == read_image(
            FIXTURES / w["image"]).tobytes(), g["name"]
        assert [s["model"] for s in g["steps"]] == [s["model"] for s in w["steps"]], g["name"]
        for gs, ws in zip(g["steps"], w["steps"], strict=True):
            # The runtime's float arithmetic may differ in the last bits between machines.
            for a, b in zip(_outputs(tmp_path, gs), _outputs(FIXTURES, ws), strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3, err_msg=g["name"])
            if "points" in gs:
                assert np.abs(np.subtract(gs["points"], ws["points"])).max() < 0.01, g["name"]
                assert abs(gs["presence"] - ws["presence"]) < 1e-4, g["name"]
            if "detections" in gs:
                assert len(gs["detections"]) == len(ws["detections"]), g["name"]
                for a, b in zip(gs["detections"], ws["detections"]):
                    assert np.abs(np.subtract(a["box"], b["box"])).max() < 0.01, g["name"]
            if "png" in gs["input"]:
                assert read_image(tmp_path / gs["input"]["png"]).tobytes() == read_image(
                    FIXTURES / ws["input"]["png"]).tobytes(), (g["name"], gs["model"])
