"""This host's fp32 and int8 peaks with the fastest kernels it has: one large 3×3 convolution
(the op that dominates the frame stage) lowered to each runtime's XNNPACK path, fp32 and int8,
timed in its own process. `benchmarks/export.py` reads "share of peak" against these.

    .venv/bin/python benchmarks/peak.py [--repeats 20] [--json]

Host-measured (x86 CPU, 2 threads): not phone figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import median_seconds

# A convolution big enough to saturate the kernels: 256 → 256 channels, 3×3, at 64×64.
CHANNELS, SIZE, KERNEL = 256, 64, 3
GMACS = CHANNELS * CHANNELS * KERNEL * KERNEL * SIZE * SIZE / 1e9
CASES = (("tflite", "fp32"), ("tflite", "int8"), ("executorch-xnnpack", "fp32"),
         ("executorch-xnnpack", "int8"))


def _conv():
    import torch

    class Conv(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(CHANNELS, CHANNELS, KERNEL, padding=KERNEL // 2)

        def forward(self, x):
            return (self.conv(x),)

    torch.manual_seed(0)
    example = (torch.randn(1, CHANNELS, SIZE, SIZE),)
    return Conv().eval(), example


def lower(backend: str, precision: str, out: Path) -> Path:
    """The conv as `backend`'s artifact, lowered by mpkit's own quantizer paths; int8 is static
    int8 (per-channel weights) calibrated on random inputs."""
    import torch

    model, example = _conv()
    calibration = [(torch.randn_like(example[0]),) for _ in range(4)]
    if backend == "tflite":
        import litert_torch

        from mpkit.export.backends.tflite import quantize_tflite
        from mpkit.export.recipes import load_recipe

        path = out / f"conv-{precision}.tflite"
        litert_torch.convert(model, example).export(str(path))
        if precision == "int8":
            recipe = load_recipe("mixed").for_component("synthesis")  # int8 convolutions
            path.write_bytes(quantize_tflite(path.read_bytes(), recipe, calibration))
        return path
    from mpkit.export.backends import get_backend
    from mpkit.export.recipes import load_recipe

    path = out / f"conv-{precision}.pte"
    get_backend(backend).lower(model, example, load_recipe(precision), calibration, path)
    return path


def worker(backend: str, path: str, repeats: int) -> dict:
    import numpy as np

    from mpkit.export.backends import get_backend

    run = get_backend(backend).host_runner(Path(path))
    x = np.random.default_rng(0).standard_normal((1, CHANNELS, SIZE, SIZE), dtype=np.float32)
    seconds = median_seconds(lambda: run(x), repeats)
    return {"ms": seconds * 1e3, "gmacs_per_s": GMACS / seconds}


def measure(repeats: int) -> list[dict]:
    """Each case lowered here and timed in a child process of its own."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend, precision in CASES:
            path = lower(backend, precision, Path(tmp))
            out = subprocess.run([sys.executable, __file__, "--worker", backend, str(path),
                                  "--repeats", str(repeats)], check=True, capture_output=True,
                                 text=True).stdout
            rows.append({"backend": backend, "precision": precision, **json.loads(out)})
    return rows


def peaks(rows: list[dict]) -> dict[str, float]:
    """The best GMAC/s per precision over the runtimes."""
    return {p: max(r["gmacs_per_s"] for r in rows if r["precision"] == p)
            for p in ("fp32", "int8")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.add_argument("--worker", nargs=2, metavar=("BACKEND", "PATH"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker, args.repeats)))
        return
    rows = measure(args.repeats)
    if args.json:
        print(json.dumps({"measured_on": "host", "gmacs": GMACS, "rows": rows,
                          "peaks_gmacs_per_s": peaks(rows)}, indent=2))
        return
    from tabulate import tabulate

    print(f"{CHANNELS}→{CHANNELS} {KERNEL}×{KERNEL} conv at {SIZE}² ({GMACS:.2f} GMAC), median "
          f"of {args.repeats}, host-measured (x86, 2 threads; not phone figures)")
    print(tabulate([[r["backend"], r["precision"], f"{r['ms']:.1f}", f"{r['gmacs_per_s']:.1f}"]
                    for r in rows], headers=["runtime", "precision", "ms", "GMAC/s"],
                   tablefmt="github"))
    best = peaks(rows)
    print(f"\npeaks: fp32 {best['fp32']:.1f} GMAC/s, int8 {best['int8']:.1f} GMAC/s "
          f"(int8/fp32 {best['int8'] / best['fp32']:.2f}×)")


if __name__ == "__main__":
    main()
