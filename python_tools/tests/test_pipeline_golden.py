"""The frame-glue fixtures the Kotlin core is tested against (testdata/pipeline) are what mpkit
computes today."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mpkit.media.image import read_image
from mpkit.pipeline import golden

FIXTURES = Path(__file__).resolve().parents[2] / "testdata" / "pipeline"


def test_the_committed_fixtures_are_what_mpkit_writes_now(asset, tmp_path):
    golden.write(tmp_path)
    want = json.loads((FIXTURES / "cases.json").read_text())
    got = json.loads((tmp_path / "cases.json").read_text())
    assert (got["resolution"], got["facial_indices"], got["tolerance"]) == (
        want["resolution"], want["facial_indices"], want["tolerance"])
    assert [c["name"] for c in got["cases"]] == [c["name"] for c in want["cases"]]
    for g, w in zip(got["cases"], want["cases"], strict=True):
        assert read_image(tmp_path / g["image"]).tobytes() == read_image(
            FIXTURES / w["image"]).tobytes(), g["name"]
        # The landmarker's float arithmetic may differ in the last bits between machines.
        assert np.abs(np.subtract(g["mesh"], w["mesh"])).max() < 0.01, g["name"]
        for key in ("x0", "y0", "side"):
            assert abs(g["crop"][key] - w["crop"][key]) < 0.02, (g["name"], key)
        diff = np.abs(read_image(tmp_path / g["crop_image"]).astype(int)
                      - read_image(FIXTURES / w["crop_image"]).astype(int))
        assert diff.max() <= 1, g["name"]

