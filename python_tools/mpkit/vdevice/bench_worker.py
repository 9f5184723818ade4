"""What the app's BenchmarkActivity does, done by the virtual device with the host runtimes:
load a bundle, run the source stage once and the frame stage per driving frame, time every
component, and write the protocol's result JSON. Every figure is host-measured, and the result
names the delegate, threads and driving that really ran; what this host cannot run is refused."""

from __future__ import annotations

import argparse
import json
import os
import time
import traceback
from pathlib import Path


from mpkit.bench.protocol import PROTOCOL_VERSION, BenchRequest
from mpkit.errors import MpkitError
from mpkit.media.files import atomic_output

MEASURED_ON = "host (virtual device)"


def _timed(run, log: list[float]):
    def call(*inputs):
        start = time.perf_counter()
        out = run(*inputs)
        log.append((time.perf_counter() - start) * 1e3)
        return out

    return call


def driving_clip(mode: str, helpers: dict[str, Path]) -> Path:
    """The driving input for `mode`: "video" is the bundle's sample clip."""
    if mode == "video":
        return helpers["sample_driving"]
    if mode == "audio":
        raise MpkitError("driving 'audio' is not supported yet: no audio component in this bundle")
    raise MpkitError(f"driving {mode!r} is not supported by the virtual device (no synthetic "
                     "driving source is defined); use driving 'video'")


def run(request: BenchRequest, bundle: Path, results: Path) -> dict:
    from mpkit.export import validate
    from mpkit.export.backends import get_backend
    from mpkit.export.bundle import pose_bank, verify
    from mpkit.landmarks.face import FaceLandmarker, FaceTracker, Segmenter
    from mpkit.media.image import read_image, write_image
    from mpkit.media.video import read_frames
    from mpkit.models import zoo
    from mpkit.pipeline.animator import Animator
    from mpkit.vdevice.host_state import pss_kb, thermal_zones

    start = time.perf_counter()
    manifest = verify(bundle)
    backend = get_backend(manifest.backend)
    # Only a delegate the bundle was validated for, and only one this host really runs.
    delegate = manifest.delegate(backend.host_delegate(request.delegate))
    helpers = {h.role: bundle / h.file for h in manifest.helpers}
    clip = driving_clip(request.driving, helpers)
    component_ms: dict[str, list[float]] = {c.name: [] for c in manifest.components}
    runners = {c.name: _timed(validate.as_component(backend.host_runner(
        bundle / c.file, threads=request.threads, delegate=delegate)), component_ms[c.name])
        for c in manifest.components}
    model = zoo.build(manifest.model_id)
    # The app's face models and multiview poses are the bundle's helper files, never the
    # host's asset cache or models/ folder.
    animator = Animator(model, runners=runners, landmarker=FaceLandmarker(files=helpers),
                        segmenter=Segmenter(path=helpers["segmenter"]),
                        pose_bank=pose_bank(bundle, manifest))
    load_ms = (time.perf_counter() - start) * 1e3
    driving = list(read_frames(clip))
    start = time.perf_counter()
    avatar = animator.prepare_source(read_image(helpers["sample_source"]))
    drive = animator.prepare_driving(avatar, driving[0])
    source_ms = (time.perf_counter() - start) * 1e3
    for log in component_ms.values():
        log.clear()
    tracker = FaceTracker(animator.landmarker)
    frame_ms, mesh_ms, captured, sustained = [], [], [], []
    total = request.warmup + request.frames
    sustained_s = request.sustained_min * 60
    deadline = time.monotonic() + sustained_s
    # Curve points every minute; short runs (tests, quick looks) get six points instead.
    window_s = min(60.0, sustained_s / 6) if sustained_s else 0.0
    run_start = minute_start = time.monotonic()
    minute_frames, i = 0, 0
    while i < total or time.monotonic() < deadline:
        frame = driving[i % len(driving)]
        t0 = time.perf_counter()
        points = tracker.update(frame).points
        t1 = time.perf_counter()
        _, image = animator.frame(avatar, drive, frame, points)
        t2 = time.perf_counter()
        if i < request.warmup:
            for log in component_ms.values():
                log.clear()
        else:
            frame_ms.append((t2 - t0) * 1e3)
            mesh_ms.append((t1 - t0) * 1e3)
            if len(captured) < request.capture_frames:
                name = f"{request.run_id}/frame_{len(captured):04d}.png"
                write_image(results / name, image)
                captured.append(name)
        minute_frames += 1
        now = time.monotonic()
        if window_s and now - minute_start >= window_s:
            temps = [t for _, t in thermal_zones()]
            sustained.append({"minute": round((now - run_start) / 60, 4),
                              "fps": minute_frames / (now - minute_start),
                              "temperature_c": max(temps) if temps else None})
            minute_start, minute_frames = now, 0
        i += 1
    pss = pss_kb(os.getpid())
    return {"times": {"load_ms": load_ms, "source_stage_ms": source_ms, "frame_ms": frame_ms,
                      "component_ms": {**component_ms, "face_mesh": mesh_ms}},
            "pss_mb": None if pss is None else pss / 1024, "sustained": sustained,
            "captured_frames": captured, "runtime": manifest.runtime, "delegate": delegate,
            "threads": request.threads, "driving": request.driving}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--request", required=True)
    p.add_argument("--bundle", required=True, type=Path)
    p.add_argument("--results", required=True, type=Path)
    args = p.parse_args()
    request = BenchRequest(**json.loads(args.request))
    base = {"protocol_version": PROTOCOL_VERSION, "run_id": request.run_id,
            "measured_on": MEASURED_ON}
    try:
        body = {"status": "ok", **run(request, args.bundle, args.results)}
    except Exception as e:  # the app reports every failure in its result file
        # Nothing ran: the record names what was attempted, and why it failed.
        error = str(e) if isinstance(e, MpkitError) else f"{type(e).__name__}: {e}"
        body = {"status": "error", "error": error, "runtime": "unknown",
                "delegate": request.delegate, "threads": request.threads,
                "driving": request.driving}
        (args.results / f"{request.run_id}.trace").write_text(traceback.format_exc())
    with atomic_output(args.results / f"{request.run_id}.json") as tmp:
        tmp.write_text(json.dumps({**base, **body}))


if __name__ == "__main__":
    main()
