"""The app's benchmark in Kotlin (`HostBenchmarkKt`) on the host JVM, its models run by the
tensor bridge from a real bundle: it speaks the protocol (a result mpkit parses, every
component timed inside the runtime, the bridge's cost apart), its captured frames are the ones
mpkit's pipeline makes, and a component failing mid-run gives an error result that names it and
keeps the timings so far."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mpkit.bench.protocol import BenchRequest, parse_result
from mpkit.export.bundle import verify
from mpkit.media.image import read_image
from mpkit.media.video import read_frames
from mpkit.vdevice import app

TIMEOUT_S = 1200  # a first run builds the Kotlin core
FRAMES, WARMUP, CAPTURE = 6, 1, 3


def _run(bundle: Path, tmp: Path, run_id: str, bridge: list[str] | None = None):
    request = BenchRequest(run_id=run_id, bundle_dir="/data/local/tmp/b", frames=FRAMES,
                           warmup=WARMUP, capture_frames=CAPTURE)
    results = tmp / "results"
    results.mkdir(exist_ok=True)
    app.run(request, bundle, results, bridge=bridge, timeout_s=TIMEOUT_S)
    path = results / f"{run_id}.json"
    return parse_result(path.read_bytes(), str(path)), results


@pytest.mark.slow
def test_the_kotlin_benchmark_speaks_the_protocol_and_renders_mpkits_frames(
        bundle, tmp_path, animator_frames):
    result, results = _run(bundle, tmp_path, "kt")
    assert result.status == "ok", result.error
    assert (result.measured_on, result.runtime, result.delegate) == (
        "host (virtual device)", "litert", "cpu")
    t = result.times
    assert len(t.frame_ms) == FRAMES and t.load_ms > 0 and t.source_stage_ms > 0
    components = verify(bundle).components
    per_frame = [c.name for c in components if c.stage == "frame"] + ["face_mesh"]
    assert sorted(t.component_ms) == sorted([c.name for c in components] + ["face_mesh"])
    assert all(len(t.component_ms[n]) == FRAMES and min(t.component_ms[n]) > 0
               for n in per_frame)
    assert all(t.component_ms[c.name] == [] for c in components if c.stage == "source")
    assert len(t.bridge_ms) == FRAMES and min(t.bridge_ms) > 0
    # A frame is its components, the glue and the bridge: never less than the parts.
    for i, frame in enumerate(t.frame_ms):
        assert frame >= sum(t.component_ms[n][i] for n in per_frame) + t.bridge_ms[i]
    assert result.pss_mb > 100
    # mpkit's Python pipeline on the same runtime renders the same frames (after the warm-up).
    driving = list(read_frames(bundle / "carphone.mp4", limit=WARMUP + CAPTURE))
    want = animator_frames(bundle, read_image(bundle / "obama.jpg"), driving)[1 + WARMUP:]
    assert len(result.captured_frames) == CAPTURE
    for ours, theirs in zip(result.captured_frames, want, strict=True):
        diff = np.abs(read_image(results / ours).astype(int) - theirs)
        assert diff.mean() < 1.0 and np.percentile(diff, 99) <= 8, (ours, diff.mean())
    print(f"kotlin p50 frame {np.median(t.frame_ms):.1f} ms (bridge {np.median(t.bridge_ms):.1f} "
          f"ms); host-measured")


FAILING_BRIDGE = textwrap.dedent("""
    import sys
    from mpkit.errors import MpkitError
    from mpkit.vdevice import tensor_bridge
    calls = {"synthesis": 0}
    run = tensor_bridge._Session.run
    def failing(self, header, tensors):
        if header.get("component") == "synthesis":
            calls["synthesis"] += 1
            if calls["synthesis"] == 3:
                raise MpkitError("injected failure (test bridge)")
        return run(self, header, tensors)
    tensor_bridge._Session.run = failing
    tensor_bridge.main()
""")


@pytest.mark.slow
def test_a_component_failing_mid_run_is_an_error_result_naming_it_with_times_so_far(
        bundle, tmp_path):
    script = tmp_path / "failing_bridge.py"
    script.write_text(FAILING_BRIDGE)
    result, _ = _run(bundle, tmp_path, "fails", [sys.executable, str(script)])
    assert result.status == "error"
    assert result.error == "synthesis failed: injected failure (test bridge)"
    # The third frame failed (warmup is the first): one measured frame is kept.
    assert result.times is not None and len(result.times.frame_ms) == 1
    assert len(result.times.component_ms["synthesis"]) == 1
