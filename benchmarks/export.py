"""Exported bundles side by side with eager PyTorch, from one run: artifact size, per-component
and frame-stage latency (each runtime in its own process), FPS and end-to-end PSNR vs float, for
every backend × recipe that runs here. Includes the TFLite warp A/B: the embed warp, the
converter's own grid_sample lowering, and no warp at all (the warp's share of the frame stage).

    .venv/bin/python benchmarks/export.py [--model mp-tiny] [--repeats 20] [--json]

Host-measured (x86 CPU): not phone figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import median_seconds

FRAME = ("keypoints", "dense_motion", "synthesis")
# (label, backend, recipe, warp implementation); warp "none" drops the warp (timing only).
CASES = (("eager", None, None, None),
         ("executorch-xnnpack fp32", "executorch-xnnpack", "fp32", None),
         ("executorch-xnnpack mixed", "executorch-xnnpack", "mixed", None),
         ("tflite fp32 (embed warp)", "tflite", "fp32", "embed"),
         ("tflite fp32 (converter grid_sample)", "tflite", "fp32", "grid_sample"),
         ("tflite fp32 (no warp: timing only)", "tflite", "fp32", "none"),
         ("tflite fp16", "tflite", "fp16", None),
         ("tflite mixed", "tflite", "mixed", None))


@contextlib.contextmanager
def _without_warp():
    """The warp returns its input unchanged (every call site samples at the input's size; a
    shared image is repeated per grid, a concat), so the lowered graph is the model minus the
    warp: what remains of the frame time without it."""
    from mpkit.models.blocks import repeat_each
    from mpkit.models.warp import Warp

    forward = Warp.forward
    Warp.forward = lambda self, image, grid: repeat_each(image, grid.shape[0] // image.shape[0])
    try:
        yield
    finally:
        Warp.forward = forward


def _median_ms(fn, repeats: int) -> float:
    return median_seconds(fn, repeats) * 1e3


def worker(model_id: str, bundle: str | None, repeats: int) -> dict:
    import torch

    from mpkit.models import zoo

    model = zoo.build(model_id, zoo.default_checkpoint(model_id))
    out = {}
    if bundle is None:
        with torch.no_grad():
            for name, comp in model.components().items():
                x = comp.example_inputs(torch.Generator().manual_seed(0))
                out[name] = _median_ms(lambda: comp(*x), repeats)
        return out
    from mpkit.export.backends import get_backend
    from mpkit.export.bundle import verify

    manifest = verify(Path(bundle))
    backend = get_backend(manifest.backend)
    for entry in manifest.components:
        run = backend.host_runner(Path(bundle) / entry.file)
        comp = model.components()[entry.name]
        x = [t.numpy() for t in comp.example_inputs(torch.Generator().manual_seed(0))]
        out[entry.name] = _median_ms(lambda: run(*x), repeats)
    return out


def _spawn(model_id: str, bundle: str | None, repeats: int) -> dict:
    args = [sys.executable, __file__, "--worker", "--model", model_id, "--repeats", str(repeats)]
    if bundle:
        args += ["--bundle", bundle]
    return json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="mp-tiny")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--bundle", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.model, args.bundle, args.repeats)))
        return
    from mpkit.export.pipeline import export
    from mpkit.models import zoo

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, backend, recipe, warp in CASES:
            bundle, size_mb, psnr = None, None, None
            if backend:
                no_warp = warp == "none"
                with _without_warp() if no_warp else contextlib.nullcontext():
                    result = export(args.model, backend, recipe,
                                    Path(tmp) / label.replace(" ", "_").replace(":", ""),
                                    zoo.default_checkpoint(args.model),
                                    warp="embed" if no_warp else warp, ignore_gate=no_warp)
                bundle = str(result.out)
                size_mb = sum(c.bytes for c in result.manifest.components) / 1e6
                psnr = None if no_warp else result.manifest.validation["end_to_end"]["psnr_db_min"]
            times = _spawn(args.model, bundle, args.repeats)
            rows.append({"case": label, "size_mb": size_mb, "psnr_db_min": psnr, "ms": times,
                         "frame_ms": sum(times[c] for c in FRAME)})
    eager = rows[0]["frame_ms"]
    if args.json:
        print(json.dumps({"model": args.model, "measured_on": "host", "rows": rows}, indent=2))
        return
    from tabulate import tabulate

    print(f"{args.model}, fp32, host-measured (x86, 2 threads; not phone figures); "
          f"median of {args.repeats} runs, each runtime in its own process")
    table = [[r["case"], "–" if r["size_mb"] is None else f"{r['size_mb']:.1f}",
              *(f"{r['ms'][c]:.1f}" for c in (*FRAME, "multiview")), f"{r['frame_ms']:.1f}",
              f"{1000 / r['frame_ms']:.1f}", f"{eager / r['frame_ms']:.2f}×",
              "–" if r["psnr_db_min"] is None else f"{r['psnr_db_min']:.1f}"] for r in rows]
    print(tabulate(table, headers=["runtime", "MB", "keypoints ms", "dense_motion ms",
                                   "synthesis ms", "multiview ms (source)", "frame ms", "FPS",
                                   "speed vs eager", "e2e PSNR dB"], tablefmt="github"))
    frame = {r["case"]: r["frame_ms"] for r in rows}
    embed, converter = frame["tflite fp32 (embed warp)"], frame["tflite fp32 (converter grid_sample)"]
    bare = frame["tflite fp32 (no warp: timing only)"]
    print(f"\nTFLite frame stage: embed warp {embed:.1f} ms vs converter grid_sample "
          f"{converter:.1f} ms ({converter / embed:.2f}× faster); the warp's share of the embed "
          f"frame stage: {max(0.0, embed - bare) / embed:.0%} (converter lowering: "
          f"{max(0.0, converter - bare) / converter:.0%})")


if __name__ == "__main__":
    main()
