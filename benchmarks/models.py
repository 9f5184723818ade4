"""Per variant and component: MACs, parameters, eager latency and achieved GMAC/s next to this
host's fp32 matmul peak, all from one run. Each variant (and the peak) runs in its own process.

    .venv/bin/python benchmarks/models.py [--models mp-tiny,mp-4g] [--repeats 10] [--json]

Host-measured (x86 CPU, eager PyTorch): not phone figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys

from timing import median_seconds

PEAK_SIZE = 2048


def worker_peak(repeats: int) -> dict:
    import torch

    a, b = torch.randn(PEAK_SIZE, PEAK_SIZE), torch.randn(PEAK_SIZE, PEAK_SIZE)
    seconds = median_seconds(lambda: a @ b, repeats)
    return {"peak_gmacs_per_s": PEAK_SIZE**3 / seconds / 1e9, "threads": torch.get_num_threads()}


def worker_model(model_id: str, repeats: int) -> dict:
    import torch

    from mpkit.models import zoo
    from mpkit.models.measure import measure

    model = zoo.build(model_id)
    stats = {c.name: c for c in measure(model).components}
    rows = []
    with torch.no_grad():
        for name, comp in model.components().items():
            inputs = comp.example_inputs(torch.Generator().manual_seed(0))
            seconds = median_seconds(lambda: comp(*inputs), repeats)
            rows.append({"component": name, "stage": comp.stage, "gmacs": stats[name].gmacs,
                         "params_m": stats[name].params_m, "median_ms": seconds * 1e3,
                         "gmacs_per_s": stats[name].gmacs / seconds})
    return {"model": model_id, "components": rows}


def _spawn(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="mp-tiny,mp-4g,mp-7g,mp-16g")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--json", action="store_true")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        result = (worker_peak(args.repeats) if args.worker == "peak"
                  else worker_model(args.worker, args.repeats))
        print(json.dumps(result))
        return

    peak = _spawn(["--worker", "peak", "--repeats", str(args.repeats)])
    results = [_spawn(["--worker", m, "--repeats", str(args.repeats)])
               for m in args.models.split(",")]
    report = {"host": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
              "threads": peak["threads"], "peak_gmacs_per_s": peak["peak_gmacs_per_s"],
              "measured_on": "host (eager PyTorch fp32, batch 1), not a phone",
              "models": results}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    from tabulate import tabulate

    print(f"host: {report['cpus']} CPUs, {report['threads']} torch threads; fp32 matmul "
          f"{PEAK_SIZE}² peak {report['peak_gmacs_per_s']:.1f} GMAC/s (host-measured, not a phone)")
    rows = []
    for r in results:
        frame_ms = sum(c["median_ms"] for c in r["components"] if c["stage"] == "frame")
        frame_gmacs = sum(c["gmacs"] for c in r["components"] if c["stage"] == "frame")
        for c in r["components"]:
            rows.append([r["model"], c["component"], c["stage"], f"{c['gmacs']:.3f}",
                         f"{c['params_m']:.2f}", f"{c['median_ms']:.1f}",
                         f"{c['gmacs_per_s']:.1f}",
                         f"{100 * c['gmacs_per_s'] / report['peak_gmacs_per_s']:.0f} %"])
        rows.append([r["model"], "frame stage", "", f"{frame_gmacs:.3f}", "",
                     f"{frame_ms:.1f}", f"{frame_gmacs / frame_ms * 1e3:.1f}",
                     f"{100 * frame_gmacs / frame_ms * 1e3 / report['peak_gmacs_per_s']:.0f} %"
                     f"  ({1e3 / frame_ms:.1f} fps)"])
    print(tabulate(rows, headers=["model", "component", "stage", "GMACs", "params M",
                                  "median ms", "GMAC/s", "of peak"], tablefmt="github"))


if __name__ == "__main__":
    main()
