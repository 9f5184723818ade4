"""The adb harness's own overhead on this host: the same bundle and request run (a) by the
virtual device's app (the Kotlin core on the JVM, models through the tensor bridge) started
directly, and (b) through `mpkit bench` on a virtual device behind a real adb server (deploy,
intent, polling, run-as read-back); and, for what the JVM core and its bridge cost, (c) mpkit's
Python pipeline on the same components in-process. All run on this host's CPU, so the per-frame
difference (b vs a) is what the harness machinery adds to a measurement (it must stay small),
and the wall-clock difference is what a cell costs in harness time. It says nothing about
phones: their overhead is the app's, measured on the phone.

    .venv/bin/python benchmarks/harness.py [--frames 40] [--repeats 3]

Host-measured (x86 CPU, virtual device): not phone figures.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def direct(bundle: Path, frames: int, warmup: int, results: Path) -> tuple[float, float]:
    """(p50 frame ms, wall s) of the virtual device's app (the Kotlin core on the JVM) started
    here directly, with no device, adb or harness around it."""
    from mpkit.bench.protocol import BenchRequest
    from mpkit.vdevice import app

    request = BenchRequest(run_id=f"direct-{time.time_ns()}", bundle_dir=str(bundle),
                           delegate="cpu", frames=frames, warmup=warmup)
    start = time.perf_counter()
    body = app.run(request, bundle, results)
    return statistics.median(body["times"]["frame_ms"]), time.perf_counter() - start


def in_process(bundle: Path, frames: int, warmup: int) -> float:
    """p50 frame ms of mpkit's Python pipeline on the same components in this process (no JVM,
    no bridge): what the app's Kotlin core and its tensor bridge cost on top."""
    from mpkit.export.bundle import verify
    from mpkit.export.host_pipeline import bundle_animator
    from mpkit.landmarks.face import FaceTracker
    from mpkit.media.image import read_image
    from mpkit.media.video import read_frames

    helpers = {h.role: bundle / h.file for h in verify(bundle).helpers}
    animator = bundle_animator(bundle, "cpu")
    driving = list(read_frames(helpers["sample_driving"]))
    avatar = animator.prepare_source(read_image(helpers["sample_source"]))
    drive = animator.prepare_driving(avatar, driving[0])
    tracker, times = FaceTracker(animator.landmarker), []
    for i in range(warmup + frames):
        frame = driving[i % len(driving)]
        start = time.perf_counter()
        animator.frame(avatar, drive, frame, tracker.update(frame).points)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times[warmup:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()

    from tabulate import tabulate

    from mpkit.bench.runner import BenchSpec, run_bench
    from mpkit.bench.store import Store
    from mpkit.device import adb as device_lib
    from mpkit.export.pipeline import export
    from mpkit.models import zoo
    from mpkit.vdevice.control import bundled_adb
    from mpkit.vdevice.daemon import Fleet

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bundle = export("mp-tiny", "tflite", "fp32", tmp / "bundle",
                        zoo.default_checkpoint("mp-tiny")).out
        (tmp / "results").mkdir()
        fleet = Fleet(1, bundled_adb())
        try:
            device = device_lib.connect(fleet.serials[0], f"127.0.0.1:{fleet.server.port}")
            (tmp / "app.apk").write_bytes(b"PK\x03\x04 mpkit bench app stand-in")
            device.install(tmp / "app.apk")
            store = Store(tmp / "r.sqlite")
            rows = []
            for i in range(args.repeats):
                p50_direct, wall_direct = direct(bundle, args.frames, args.warmup, tmp / "results")
                spec = BenchSpec(bundles=[str(bundle)], frames=args.frames, warmup=args.warmup,
                                 cooldown_s=0, seed=i)
                start = time.perf_counter()
                run_id = run_bench(spec, [device], store)
                wall_harness = time.perf_counter() - start
                (record,) = store.records([run_id])
                p50_python = in_process(bundle, args.frames, args.warmup)
                rows.append((p50_direct, record["p50_ms"], wall_direct, wall_harness, p50_python))
        finally:
            fleet.stop()
    table = [[i + 1, f"{e:.1f}", f"{a:.1f}", f"{a / e - 1:+.1%}", f"{b:.1f}", f"{b / a - 1:+.1%}",
              f"{c:.1f}", f"{d:.1f}", f"{d - c:+.1f}"] for i, (a, b, c, d, e) in enumerate(rows)]
    print(f"harness overhead: mp-tiny tflite fp32, {args.frames} frames after {args.warmup} "
          "warm-up, every run on this host's CPU (mpkit's Python pipeline in-process, the app's "
          "Kotlin core started directly, and the same through adb on a virtual device); not "
          "phone figures")
    print(tabulate(table, headers=["run", "p50 ms Python in-process", "p50 ms app direct",
                                   "Kotlin app + bridge vs Python", "p50 ms via adb harness",
                                   "harness vs app direct", "cell wall s app direct",
                                   "cell wall s via harness", "harness wall overhead s"],
                   tablefmt="github"))
    diff = statistics.median(b / a - 1 for a, b, *_ in rows)
    print(f"\nmedian per-frame difference the harness adds on this host: {diff:+.1%} "
          "(goal: within ±5 %); phones are not measured here")


if __name__ == "__main__":
    main()
