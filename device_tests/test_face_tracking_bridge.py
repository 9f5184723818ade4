"""The app's Kotlin face tracking on the host JVM, its face models run by the virtual device's
tensor bridge from a real bundle's helpers, finds what mpkit's FaceTracker finds on the same real
carphone frames: the same detected / tracked / lost decisions and the same 468 points."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mpkit.errors import NoFaceError
from mpkit.export.bundle import verify
from mpkit.landmarks.face import FaceLandmarker, FaceTracker
from mpkit.media.video import read_frames

ROOT = Path(__file__).resolve().parents[1]
KOTLIN_TIMEOUT_S = 1200  # a first run installs the Kotlin tools
FRAMES = 40
# On the same ROI both sides feed the models the same bytes (the Kotlin warp is OpenCV's fixed
# point), but the tracked ROI comes from float64 decoding in Kotlin, float32 in face.py: ~1e-4 px
# apart, a few samples cross a 1/32 px step and the difference grows along the track (measured:
# 0.056 px worst over the 40 frames).
POINTS_PX = 0.25


def _frames(bundle: Path) -> np.ndarray:
    """Carphone on a canvas twice its width: the face on the left, then on the right (the mesh
    loses it, the detector finds it again), and one grey frame (no face: lost)."""
    video = list(read_frames(bundle / "carphone.mp4", limit=FRAMES))
    h, w = video[0].shape[:2]
    out = np.full((FRAMES, h, 2 * w, 3), 90, np.uint8)
    for i, frame in enumerate(video):
        if i != 30:
            out[i, :, (0 if i < 20 else w):][:, :w] = frame
    return out


def _python(bundle: Path, frames: np.ndarray) -> list[tuple[str, np.ndarray | None]]:
    helpers = {h.role: bundle / h.file for h in verify(bundle).helpers}
    tracker = FaceTracker(FaceLandmarker(files=helpers))
    out = []
    for frame in frames:
        try:
            face = tracker.update(frame)
            out.append(("detected" if face.redetected else "tracked", face.points))
        except NoFaceError:
            out.append(("lost", None))
    return out


@pytest.mark.slow
def test_the_jvm_face_tracker_over_the_bridge_finds_mpkits_faces(bundle, tmp_path):
    frames = _frames(bundle)
    raw = tmp_path / "frames.rgb"
    raw.write_bytes(frames.tobytes())
    run = subprocess.run(
        ["bash", "scripts/kotlin.sh", "run", "org.mpkit.core.FaceTrackingCheckKt", str(bundle),
         str(raw), str(frames.shape[2]), str(frames.shape[1]),
         sys.executable, "-m", "mpkit.vdevice.tensor_bridge"],
        cwd=ROOT, capture_output=True, text=True, timeout=KOTLIN_TIMEOUT_S)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)
    got = report["frames"]
    want = _python(bundle, frames)
    assert [g["decision"] for g in got] == [d for d, _ in want]
    assert {d for d, _ in want} == {"detected", "tracked", "lost"}
    assert sum(d == "detected" for d, _ in want) >= 2  # the first frame and the jump
    worst = max(np.abs(np.reshape(g["points"], (468, 3)) - p).max()
                for g, (_, p) in zip(got, want) if p is not None)
    print(f"{len(got)} frames, worst point difference {worst:.2e} px, "
          f"runtime {report['runtime_ms']:.0f} ms")
    assert worst < POINTS_PX
    assert report["runtime_ms"] > 0
