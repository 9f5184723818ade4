"""The warp alone, per call site of a model: each implementation lowered to TFLite by litert-torch
and timed with the LiteRT CPU runtime (XNNPACK, 2 threads), the implementations of a call site
run in turn so host load falls on each alike, with its PSNR against eager `grid_sample` on a
real frame, from one run. `--gpu` adds the verdict of LiteRT's real GPU accelerator (software
Vulkan device: placement only, its times are not GPU speed).

    .venv/bin/python benchmarks/warp.py [--model mp-tiny] [--repeats 50] [--gpu] [--json]

Host-measured (x86 CPU): not phone figures.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import tempfile
import time
from pathlib import Path


def call_sites(cfg) -> dict[str, tuple[int, int, int]]:
    """name → (image size, grids per image, grid size), as the model calls the warp."""
    return {"dense_motion": (cfg.dense_motion.size, cfg.num_tps + 1, cfg.dense_motion.size),
            "synthesis": (cfg.resolution, 1, cfg.resolution),
            "multiview": (cfg.resolution, cfg.views, cfg.resolution)}


def inputs(image_size: int, grids: int, grid_size: int):
    """A carphone frame and smooth grids reaching a little past the border."""
    import cv2
    import torch

    from mpkit.media.assets import asset_path
    from mpkit.media.video import read_frames

    frame = cv2.resize(next(read_frames(asset_path("carphone.mp4"))), (image_size, image_size))
    image = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255
    axis = torch.linspace(-1.1, 1.1, grid_size)
    ys, xs = torch.meshgrid(axis, axis, indexing="ij")
    noise = torch.randn(grids, 2, 8, 8, generator=torch.Generator().manual_seed(0)) * 0.1
    smooth = torch.nn.functional.interpolate(noise, size=(grid_size, grid_size), mode="bicubic")
    return image, torch.stack([xs, ys], -1) + smooth.permute(0, 2, 3, 1)


def median_seconds_interleaved(calls: dict, repeats: int, warmup: int = 3) -> dict[str, float]:
    """Median wall time of each call, the calls run in turn, each round starting one later (so
    host load and the previous call's cache and thread wake-up fall on each alike)."""
    names, times = list(calls), {name: [] for name in calls}
    for i in range(warmup + repeats):
        for name in names[i % len(names):] + names[:i % len(names)]:
            start = time.perf_counter()
            calls[name]()
            if i >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def _gpu_verdict(path: Path) -> str:
    from mpkit.gpu import accelerator

    v = accelerator.place(path, bisect=False)
    if v.crash:
        return "crashes"
    if v.fully_accelerated:
        return "fully accelerated"
    return f"{v.gpu_ops}/{v.ops} ops; rejects " + ", ".join(sorted({r.op for r in v.rejected}))


def measure(model_id: str, repeats: int, gpu: bool = False) -> list[dict]:
    import litert_torch
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    from mpkit.models.config import load_config
    from mpkit.models.warp import WARP_IMPLS, Warp

    cfg = load_config(model_id)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for site, shape in call_sites(cfg).items():
            image, grid = inputs(*shape)
            feed = {"args_0": image.numpy(), "args_1": grid.numpy()}
            reference = Warp(cfg.warp)(image, grid).numpy()
            runners, site_rows = {}, []
            for impl in WARP_IMPLS:
                path = Path(tmp) / f"{site}-{impl}.tflite"
                with contextlib.redirect_stdout(io.StringIO()):  # the converter's progress
                    litert_torch.convert(Warp(cfg.warp, impl).eval(), (image, grid)).export(
                        str(path))
                interpreter = Interpreter(model_path=str(path), num_threads=2)
                interpreter.allocate_tensors()
                runners[impl] = interpreter.get_signature_runner()
                out = next(iter(runners[impl](**feed).values()))
                mse = float(np.mean((out - reference) ** 2))
                site_rows.append({"site": site, "impl": impl, "image": list(image.shape),
                                  "grid": list(grid.shape),
                                  "ops": len(interpreter._get_ops_details()),
                                  "psnr_db": None if mse == 0 else 10 * np.log10(1 / mse),
                                  "gpu": _gpu_verdict(path) if gpu else None})
            ms = median_seconds_interleaved({k: lambda r=r: r(**feed) for k, r in runners.items()},
                                            repeats)
            rows += [{**r, "ms": ms[r["impl"]] * 1e3} for r in site_rows]
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="mp-tiny")
    p.add_argument("--repeats", type=int, default=50)
    p.add_argument("--gpu", action="store_true",
                   help="add the real GPU accelerator's verdict (software Vulkan device)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    rows = measure(args.model, args.repeats, args.gpu)
    if args.json:
        print(json.dumps({"model": args.model, "measured_on": "host", "rows": rows}, indent=2))
        return
    from tabulate import tabulate

    print(f"{args.model}: the warp alone on TFLite (XNNPACK, 2 threads), host-measured (x86; "
          f"not phone figures); median of {args.repeats} runs")
    ms = {(r["site"], r["impl"]): r["ms"] for r in rows}
    print(tabulate([[r["site"], r["impl"], r["image"], r["grid"], r["ops"], f"{r['ms']:.2f}",
                     f"{ms[(r['site'], 'grid_sample')] / r['ms']:.2f}×",
                     f"{r['ms'] / ms[(r['site'], 'embed')]:.2f}×",
                     "exact" if r["psnr_db"] is None else f"{r['psnr_db']:.1f}"]
                    + ([r["gpu"]] if args.gpu else []) for r in rows],
                   headers=["call site", "impl", "image", "grid", "ops", "ms", "speed-up vs "
                            "grid_sample", "time vs embed", "PSNR vs eager dB"]
                   + (["GPU accelerator"] if args.gpu else []), tablefmt="github"))


if __name__ == "__main__":
    main()
