"""Golden fixtures of video decoding for the app's Kotlin core (testdata/video_decode/): real
carphone frames as the H.264 decoder gives them (planar 8-bit YUV 4:2:0, what a phone's
MediaCodec hands the app as YUV_420_888) and as mpkit decodes them to RGB (ffmpeg's BT.601
limited-range conversion, which the virtual device's bridge uses). The Kotlin `Yuv` converter
must meet the tolerances in `cases.json`; a Python test fails when what this writes drifts.

    python -m mpkit.media.golden [OUT_DIR]   # default: testdata/video_decode
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from mpkit.media.assets import asset_path
from mpkit.media.files import atomic_output
from mpkit.media.video import read_frames

CLIP = "carphone.mp4"
FRAMES = (0, 80)  # a still start and a frame mid-motion
# swscale's table conversion rounds down a few times (its output is ~1 level below exact
# BT.601 on average); the app's fixed-point conversion rounds to nearest.
TOLERANCE = {"max_levels": 3, "mean_levels": 1.5}


def _yuv_frames(path: Path, count: int) -> list[bytes]:
    gen = imageio_ffmpeg.read_frames(str(path), pix_fmt="yuv420p", bits_per_pixel=12)
    next(gen)  # the metadata
    frames = [bytes(f) for _, f in zip(range(count), gen)]
    gen.close()
    return frames


def write(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    clip = asset_path(CLIP)
    yuv = _yuv_frames(clip, max(FRAMES) + 1)
    rgb = list(read_frames(clip, limit=max(FRAMES) + 1))
    height, width = rgb[0].shape[:2]
    cases = []
    for i in FRAMES:
        name = f"carphone_{i:03d}"
        with atomic_output(out / f"{name}.yuv") as tmp:
            tmp.write_bytes(yuv[i])
        with atomic_output(out / f"{name}.rgb") as tmp:
            tmp.write_bytes(np.ascontiguousarray(rgb[i], dtype=np.uint8).tobytes())
        cases.append({"name": name, "yuv": f"{name}.yuv", "rgb": f"{name}.rgb"})
    spec = {"clip": CLIP, "width": width, "height": height, "layout": "I420",
            "matrix": "bt601", "full_range": False, "tolerance": TOLERANCE, "cases": cases}
    with atomic_output(out / "cases.json") as tmp:
        tmp.write_text(json.dumps(spec, indent=2) + "\n")


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[3]
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else root / "testdata" / "video_decode")
