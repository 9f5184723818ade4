"""The video-decoding fixtures the Kotlin YUV converter is tested against (testdata/video_decode)
are what mpkit's decoders give today, and ffmpeg's RGB is BT.601 limited range of that YUV."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mpkit.media import golden

FIXTURES = Path(__file__).resolve().parents[2] / "testdata" / "video_decode"


def test_the_committed_fixtures_are_what_mpkit_decodes_now(asset, tmp_path):
    golden.write(tmp_path)
    assert json.loads((tmp_path / "cases.json").read_text()) == json.loads(
        (FIXTURES / "cases.json").read_text())
    for f in FIXTURES.iterdir():
        assert (tmp_path / f.name).read_bytes() == f.read_bytes(), f.name


def test_the_rgb_is_bt601_limited_range_of_the_yuv_within_the_stated_tolerance():
    spec = json.loads((FIXTURES / "cases.json").read_text())
    w, h = spec["width"], spec["height"]
    for case in spec["cases"]:
        yuv = np.fromfile(FIXTURES / case["yuv"], np.uint8).astype(float)
        rgb = np.fromfile(FIXTURES / case["rgb"], np.uint8).reshape(h, w, 3).astype(float)
        y = yuv[:w * h].reshape(h, w) - 16
        u, v = (p.reshape(h // 2, w // 2).repeat(2, 0).repeat(2, 1) - 128
                for p in np.split(yuv[w * h:], 2))
        want = np.stack([1.164383 * y + 1.596027 * v,
                         1.164383 * y - 0.391762 * u - 0.812968 * v,
                         1.164383 * y + 2.017232 * u], -1).clip(0, 255).round()
        diff = np.abs(want - rgb)
        assert diff.max() <= spec["tolerance"]["max_levels"], case["name"]
        assert diff.mean() <= spec["tolerance"]["mean_levels"], case["name"]
        assert rgb.std() > 20, case["name"]  # a real picture, not a flat frame
