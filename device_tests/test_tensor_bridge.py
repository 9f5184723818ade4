"""The app's Kotlin core on the host JVM runs a real bundle's components through the virtual
device's tensor bridge, and gets what the host runtime computes."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mpkit.export.backends import get_backend
from mpkit.export.bundle import verify
from mpkit.vdevice import tensor_bridge

ROOT = Path(__file__).resolve().parents[1]
KOTLIN_TIMEOUT_S = 1200  # a first run installs the Kotlin tools


def _probe(shape) -> np.ndarray:
    """What the Kotlin `probe` fills a tensor with."""
    i = np.arange(int(np.prod(shape)), dtype=np.float64)
    return (0.5 + 0.4 * np.sin(0.37 * i)).astype(np.float32).reshape(shape)


@pytest.mark.slow
def test_the_jvm_core_runs_every_component_through_the_bridge(bundle):
    run = subprocess.run(
        ["bash", "scripts/kotlin.sh", "run", "org.mpkit.core.HostBridgeCheckKt",
         str(bundle), "cpu", sys.executable, "-m", "mpkit.vdevice.tensor_bridge"],
        cwd=ROOT, capture_output=True, text=True, timeout=KOTLIN_TIMEOUT_S)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)
    manifest = verify(bundle)
    assert (report["runtime"], report["delegate"]) == ("litert", "cpu")
    assert set(report["components"]) == {c.name for c in manifest.components}
    backend = get_backend(manifest.backend)
    for c in manifest.components:
        got = report["components"][c.name]
        want = backend.host_runner(bundle / c.file, delegate="cpu")(
            *(_probe(t.shape) for t in c.inputs))
        assert [o["name"] for o in got["outputs"]] == [t.name for t in c.outputs]
        for o, w in zip(got["outputs"], want, strict=True):
            assert o["shape"] == list(w.shape), (c.name, o["name"])
            assert o["sum"] == pytest.approx(float(w.astype(np.float64).sum()), rel=1e-4, abs=1e-3)
            assert o["first"] == pytest.approx(float(w.flat[0]), rel=1e-5, abs=1e-6)
        assert got["runtime_ms"] > 0 and got["bridge_ms"] >= 0


def _frame(header: dict, payload: bytes = b"") -> bytes:
    body = json.dumps(header).encode()
    return struct.pack("<I", len(body)) + body + payload


def _answers(stream: bytes) -> list[dict]:
    out, inp = [], io.BytesIO(stream)
    while (frame := tensor_bridge.read_frame(inp, "outputs")) is not None:
        out.append(frame[0])
    return out


def test_requests_before_load_and_unknown_ops_are_answered_not_fatal():
    out = io.BytesIO()
    tensor_bridge.serve(io.BytesIO(_frame({"op": "run", "component": "keypoints"})
                                   + _frame({"op": "decode", "helper": "sample_source"})
                                   + _frame({"op": "dance"}) + _frame({"op": "quit"})), out)
    errors = [a["error"] for a in _answers(out.getvalue())]
    assert errors == ["no component 'keypoints' loaded; loaded: none (send load first)",
                      "no sample media 'sample_source' in the loaded bundle; it has: none "
                      "(send load first)",
                      "unknown op 'dance'; ops: load, run, decode, quit"]


def test_the_bridge_decodes_only_the_bundles_sample_media(bundle):
    from mpkit.media.image import read_image
    from mpkit.media.video import read_frames

    out = io.BytesIO()
    requests = [{"op": "load", "bundle": str(bundle), "delegate": "cpu", "threads": 1},
                {"op": "decode", "helper": "sample_source"},
                {"op": "decode", "helper": "sample_driving"},
                {"op": "decode", "helper": "segmenter"}]
    tensor_bridge.serve(io.BytesIO(b"".join(_frame(r) for r in requests)), out)
    stream = io.BytesIO(out.getvalue())
    tensor_bridge.read_frame(stream, "outputs")  # the load's answer
    photo, clip = (tensor_bridge.read_frame(stream, "frames")[1][0] for _ in range(2))
    np.testing.assert_array_equal(photo[0], read_image(bundle / "obama.jpg"))
    np.testing.assert_array_equal(clip, np.stack(list(read_frames(bundle / "carphone.mp4"))))
    refused = tensor_bridge.read_frame(stream, "frames")[0]["error"]
    assert refused == ("no sample media 'segmenter' in the loaded bundle; it has: "
                       "sample_source, sample_driving")


def test_oversized_and_truncated_frames_end_the_bridge_with_a_named_error():
    with pytest.raises(tensor_bridge.BridgeError, match="over the 65536-byte cap"):
        tensor_bridge.serve(io.BytesIO(struct.pack("<I", 1 << 20)), io.BytesIO())
    huge = {"op": "run", "component": "x", "inputs": [{"name": "a", "shape": [1 << 20, 1 << 10]}]}
    with pytest.raises(tensor_bridge.BridgeError, match="a: 4294967296 bytes is over the tensor cap"):
        tensor_bridge.serve(io.BytesIO(_frame(huge)), io.BytesIO())
    short = {"op": "run", "component": "x", "inputs": [{"name": "a", "shape": [4]}]}
    with pytest.raises(tensor_bridge.BridgeError, match="ended 8 bytes early"):
        tensor_bridge.serve(io.BytesIO(_frame(short, b"\0" * 8)), io.BytesIO())
