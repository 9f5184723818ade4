"""The app's Kotlin avatar pipeline on the host JVM, every model run by the virtual device's
tensor bridge from a real bundle: the source stage on a real photo (pose bank, segmenter, push-pull
background, multiview) and the frame stage on real carphone frames give what mpkit's Animator
gives with the same bundle's components on the same host runtime."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mpkit.media.image import read_image
from mpkit.media.video import read_frames

ROOT = Path(__file__).resolve().parents[1]
KOTLIN_TIMEOUT_S = 1200  # a first run installs the Kotlin tools
FRAMES = 12
# Both sides run the same graphs on the same runtime; the glue differs in float rounding only
# (the face mesh 0.06 px, the crop's bilinear weights, the mask's exp), so pixel values agree to
# within a few levels.
MEAN_ABS_LEVELS = 1.0
P99_ABS_LEVELS = 8


@pytest.mark.slow
def test_the_jvm_avatar_pipeline_over_the_bridge_makes_mpkits_frames(bundle, tmp_path,
                                                                     animator_frames):
    photo = read_image(bundle / "obama.jpg")
    frames = list(read_frames(bundle / "carphone.mp4", limit=FRAMES))
    (tmp_path / "photo.rgb").write_bytes(photo.tobytes())
    (tmp_path / "frames.rgb").write_bytes(np.stack(frames).tobytes())
    out = tmp_path / "out.rgb"
    run = subprocess.run(
        ["bash", "scripts/kotlin.sh", "run", "org.mpkit.core.AvatarPipelineCheckKt", str(bundle),
         str(tmp_path / "photo.rgb"), str(photo.shape[1]), str(photo.shape[0]),
         str(tmp_path / "frames.rgb"), str(frames[0].shape[1]), str(frames[0].shape[0]),
         str(out), sys.executable, "-m", "mpkit.vdevice.tensor_bridge"],
        cwd=ROOT, capture_output=True, text=True, timeout=KOTLIN_TIMEOUT_S)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)
    got = np.frombuffer(out.read_bytes(), np.uint8).reshape(FRAMES + 1, 256, 256, 3)
    want = np.stack(animator_frames(bundle, photo, frames))
    diff = np.abs(got.astype(int) - want)
    print(f"source crop: mean {diff[0].mean():.3f}; generated: mean {diff[1:].mean():.3f}, "
          f"p99 {np.percentile(diff[1:], 99):.0f}, max {diff[1:].max()} levels; runtime "
          f"{report['runtime_ms']:.0f} ms")
    assert diff[0].mean() < MEAN_ABS_LEVELS and np.percentile(diff[0], 99) <= P99_ABS_LEVELS
    assert diff[1:].mean() < MEAN_ABS_LEVELS and np.percentile(diff[1:], 99) <= P99_ABS_LEVELS
    # The frames move: a pipeline that ignored the driving would make one image.
    assert np.abs(want[1:].astype(int) - want[1]).max() > 50
    assert report["faces_found"] == 1 and report["runtime_ms"] > 0
    assert report["held_frames"] == 0  # a face on every frame: each one rendered
