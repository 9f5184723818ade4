"""Exported bundles side by side with eager PyTorch, from one run: artifact size, per-component
and frame-stage latency (each runtime in its own process), ratio to eager, achieved GMAC/s against
this host's measured fp32 and int8 peaks (benchmarks/peak.py, in the same run), op placement
(operators ExecuTorch runs outside its delegate; whether LiteRT's real GPU accelerator takes each
component whole) and end-to-end PSNR vs float, for every backend × recipe. A case that fails keeps
its row with the reason; the rows measured so far are never lost. Includes the TFLite warp A/B:
the backend's gather warp, the converter's own grid_sample lowering, and no warp at all.

    .venv/bin/python benchmarks/export.py [--model mp-tiny|mp-4g|mp-7g|mp-16g] [--repeats 20]
                                          [--json] [--no-peak]

Paper sizes have no shipped checkpoint and run with random weights. Host-measured (x86 CPU,
2 threads): not phone figures; the GPU column is the real accelerator's placement on a software
Vulkan device, not a GPU timing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import peak
from timing import median_seconds

FRAME = ("keypoints", "dense_motion", "synthesis")
# (label, backend, recipe, warp implementation); warp "none" drops the warp (timing only).
CASES = (("eager", None, None, None),
         ("executorch-xnnpack fp32", "executorch-xnnpack", "fp32", None),
         ("executorch-xnnpack int8", "executorch-xnnpack", "int8", None),
         ("executorch-xnnpack mixed", "executorch-xnnpack", "mixed", None),
         ("tflite fp32", "tflite", "fp32", None),
         ("tflite fp32 (converter grid_sample warp)", "tflite", "fp32", "grid_sample"),
         ("tflite fp32 (no warp: timing only)", "tflite", "fp32", "none"),
         ("tflite fp16", "tflite", "fp16", None),
         ("tflite mixed", "tflite", "mixed", None))
# The share of peak an int8 or fp32 case is held to: which peak applies.
PEAK_OF = {"fp32": "fp32", "fp16": "fp32", "int8": "int8", "mixed": "int8"}


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


def _outside_delegate(path: Path) -> dict[str, int]:
    """The operators an ExecuTorch program runs outside its delegates, from the program itself."""
    from executorch.exir._serialize._program import deserialize_pte_binary

    program = deserialize_pte_binary(path.read_bytes())
    plan = getattr(program, "program", program).execution_plan[0]
    counts: Counter = Counter()
    for instruction in plan.chains[0].instructions:
        if type(instruction.instr_args).__name__ == "KernelCall":
            counts[plan.operators[instruction.instr_args.op_index].name] += 1
    return dict(counts)


def _placement(manifest, bundle: Path) -> dict:
    """Per frame-stage component: ops outside the delegate (ExecuTorch) or the GPU accelerator's
    verdict (TFLite)."""
    out = {}
    for entry in manifest.components:
        if entry.name not in FRAME:
            continue
        path = bundle / entry.file
        if manifest.backend.startswith("executorch"):
            out[entry.name] = {"outside_delegate": _outside_delegate(path)}
        else:
            from mpkit.gpu.accelerator import place

            verdict = place(path, entry.name, bisect=False)
            out[entry.name] = {"gpu_fully_accelerated": verdict.fully_accelerated,
                               "gpu_crash": verdict.crash}
    return out


def _spawn(model_id: str, bundle: str | None, repeats: int) -> dict:
    args = [sys.executable, __file__, "--worker", "--model", model_id, "--repeats", str(repeats)]
    if bundle:
        args += ["--bundle", bundle]
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"]
        raise RuntimeError(f"timing worker failed: {lines[-1]}")
    return json.loads(proc.stdout)


def _case(model_id: str, label: str, backend: str | None, recipe: str | None, warp: str | None,
          repeats: int, tmp: Path) -> dict:
    from mpkit.export.backends import get_backend
    from mpkit.export.pipeline import export
    from mpkit.models import zoo

    row = {"case": label, "recipe": recipe or "fp32", "size_mb": None, "psnr_db_min": None,
           "placement": None}
    bundle = None
    if backend:
        no_warp = warp == "none"
        with _without_warp() if no_warp else contextlib.nullcontext():
            result = export(model_id, backend, recipe, tmp / label.replace(" ", "_").replace(":", ""),
                            zoo.default_checkpoint(model_id), warp="gather" if no_warp else warp,
                            # validated on the default (CPU) delegate only: the timing is the
                            # CPU's, and the software GPU would add minutes per case
                            ignore_gate=no_warp,
                            delegates=get_backend(backend).host_delegates[:1])
        bundle = result.out
        row["size_mb"] = sum(c.bytes for c in result.manifest.components) / 1e6
        if not no_warp:
            e2e = result.manifest.validation["end_to_end"]
            row["psnr_db_min"] = e2e[result.manifest.delegates[0]]["psnr_db_min"]
            row["placement"] = _placement(result.manifest, bundle)
    row["ms"] = _spawn(model_id, str(bundle) if bundle else None, repeats)
    row["frame_ms"] = sum(row["ms"][c] for c in FRAME)
    return row


def _frame_gmacs(model_id: str) -> float:
    from mpkit.models import zoo
    from mpkit.models.measure import measure

    stats = measure(zoo.build(model_id, zoo.default_checkpoint(model_id)))
    return sum(c.gmacs for c in stats.components if c.name in FRAME)


def _placement_cell(placement: dict | None) -> str:
    if not placement:
        return "–"
    cells = []
    for name, p in placement.items():
        if "outside_delegate" in p:
            ops = p["outside_delegate"]
            cells.append(f"{name} {sum(ops.values())}" + (f" ({', '.join(ops)})" if ops else ""))
        else:
            cells.append(f"{name} " + ("crash" if p["gpu_crash"] else
                                       "yes" if p["gpu_fully_accelerated"] else "no"))
    return "; ".join(cells)


def _table(report: dict) -> str:
    from tabulate import tabulate

    rows, peaks, gmacs = report["rows"], report["peaks_gmacs_per_s"], report["frame_gmacs"]
    eager = next((r["frame_ms"] for r in rows if r["case"] == "eager" and "frame_ms" in r), None)
    table = []
    for r in rows:
        if "error" in r:
            table.append([r["case"], f"failed: {r['error']}"] + [""] * 11)
            continue
        rate = gmacs / r["frame_ms"] * 1e3
        which = PEAK_OF[r["recipe"]]
        share = f"{rate / peaks[which]:.0%} of {which}" if peaks else "–"
        table.append([r["case"], "–" if r["size_mb"] is None else f"{r['size_mb']:.1f}",
                      *(f"{r['ms'][c]:.1f}" for c in (*FRAME, "multiview")),
                      f"{r['frame_ms']:.1f}", f"{1000 / r['frame_ms']:.1f}",
                      f"{eager / r['frame_ms']:.2f}×" if eager else "–", f"{rate:.1f}", share,
                      "–" if r["psnr_db_min"] is None else f"{r['psnr_db_min']:.1f}",
                      _placement_cell(r["placement"])])
    return tabulate(table, tablefmt="github", headers=[
        "runtime", "MB", "keypoints ms", "dense_motion ms", "synthesis ms",
        "multiview ms (source)", "frame ms", "FPS", "vs eager", "GMAC/s", "share of peak",
        "e2e PSNR dB", "placement (ExecuTorch: ops outside the delegate; TFLite: GPU whole)"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="mp-tiny")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-peak", action="store_true", help="skip measuring the host's peaks")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--bundle", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.model, args.bundle, args.repeats)))
        return
    report = {"model": args.model, "measured_on": "host", "frame_gmacs": _frame_gmacs(args.model),
              "peaks_gmacs_per_s": None if args.no_peak else peak.peaks(peak.measure(args.repeats)),
              "rows": []}
    with tempfile.TemporaryDirectory() as tmp:
        for label, backend, recipe, warp in CASES:
            try:
                row = _case(args.model, label, backend, recipe, warp, args.repeats, Path(tmp))
            except Exception as error:  # the row says why; the other cases still run
                lines = str(error).strip().splitlines() or [type(error).__name__]
                row = {"case": label, "error": f"{type(error).__name__}: {lines[0][:300]}"}
            report["rows"].append(row)
            print(f"done: {label}" + (f" ({row['error']})" if "error" in row else ""),
                  file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{args.model}, host-measured (x86, 2 threads; not phone figures); median of "
          f"{args.repeats} runs, each runtime in its own process; frame stage = "
          f"{' + '.join(FRAME)} ({report['frame_gmacs']:.2f} GMAC)")
    if report["peaks_gmacs_per_s"]:
        pk = report["peaks_gmacs_per_s"]
        print(f"host peaks (benchmarks/peak.py, this run): fp32 {pk['fp32']:.1f} GMAC/s, "
              f"int8 {pk['int8']:.1f} GMAC/s")
    print(_table(report))
    frame = {r["case"]: r["frame_ms"] for r in report["rows"] if "frame_ms" in r}
    gather, converter = frame.get("tflite fp32"), frame.get("tflite fp32 (converter grid_sample warp)")
    bare = frame.get("tflite fp32 (no warp: timing only)")
    if gather and converter and bare:
        print(f"\nTFLite frame stage: gather warp {gather:.1f} ms vs converter grid_sample "
              f"{converter:.1f} ms ({converter / gather:.2f}×); the warp's share of the frame "
              f"stage: {max(0.0, gather - bare) / gather:.0%} (converter lowering: "
              f"{max(0.0, converter - bare) / converter:.0%})")


if __name__ == "__main__":
    main()
