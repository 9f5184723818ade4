"""`mpkit check`: lower every component for one backend and recipe and report where each op and
each warp call will run, without validating or bundling."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch

from mpkit.export import validate
from mpkit.gpu import accelerator, software
from mpkit.export.backends import get_backend
from mpkit.export.placement import OpPlacement, WarpSite, gpu_placement
from mpkit.export.recipes import load_calibration, load_recipe
from mpkit.models import zoo
from mpkit.models.portrait import Component, PortraitModel

TARGETS = {"executorch-xnnpack": ["xnnpack"], "executorch-vulkan": ["vulkan"],
           "executorch-qnn": ["qnn"], "tflite": ["cpu", "gpu", "nnapi"]}
# Columns read from op lists and constraints, not from running the delegate.
PREDICTED = {"tflite": {"cpu": "predicted from XNNPACK's op list, not run",
                        "nnapi": "predicted from NNAPI's op list, not run"}}


@dataclass
class PlacementReport:
    model_id: str
    backend: str
    recipe: str
    targets: list[str]
    ops: list[OpPlacement]
    warps: list[WarpSite]
    accelerators: list[dict] = field(default_factory=list)  # the real GPU accelerator's verdicts
    gpu_problem: str | None = None  # why the real GPU accelerator was not asked

    def as_dict(self) -> dict:
        return {
            "model_id": self.model_id, "backend": self.backend, "recipe": self.recipe,
            "targets": self.targets, "predicted": PREDICTED.get(self.backend, {}),
            "gpu_accelerator": self.accelerators, "gpu_problem": self.gpu_problem,
            "ops": [{"component": r.component, "op": r.op, "count": r.count,
                     "where": {t: dict(c) for t, c in r.where.items()},
                     "reasons": {t: sorted(v) for t, v in r.reasons.items() if v}}
                    for r in self.ops],
            "warps": [{"component": w.component, "impl": w.impl, "mode": w.mode,
                       "padding_mode": w.padding_mode, "align_corners": w.align_corners,
                       "rank": w.rank, "image_shape": list(w.image_shape),
                       "grid_shape": list(w.grid_shape), "ops": dict(w.ops),
                       "where": w.where, "fix": w.fix}
                      for w in self.warps],
        }


def warp_sites(model: PortraitModel, component: Component, example) -> list[WarpSite]:
    """Every warp call the component makes, recorded by running it once."""
    sites: list[WarpSite] = []

    def record(module, args, _output):
        image, grid = args
        sites.append(WarpSite(component.name, module.impl, module.padding_mode,
                              module.align_corners, tuple(image.shape), tuple(grid.shape)))

    handle = model.warp.register_forward_hook(record)
    try:
        with torch.no_grad():
            component(*example)
    finally:
        handle.remove()
    return sites


def check(model_id: str, backend_name: str, recipe_name: str = "fp32",
          checkpoint: Path | None = None, model: PortraitModel | None = None,
          progress: Callable[[str], None] = lambda message: None) -> PlacementReport:
    """`model` overrides the built model (e.g. another warp configuration)."""
    backend = get_backend(backend_name)
    backend.check_available()
    recipe = load_recipe(recipe_name)
    backend.check_precision(recipe)
    model = model or zoo.build(model_id, checkpoint)
    model.warp.impl = backend.warp
    calls = None
    if recipe.quantize:
        progress("recording calibration inputs on the calibration faces")
        calls = validate.reference(model, load_calibration("faces")).calls
    ops, warps, verdicts = [], [], []
    gpu = software.status() if backend.name == "tflite" else None
    with tempfile.TemporaryDirectory(prefix="mpkit-check-") as workdir:
        for name, component in model.components().items():
            progress(f"lowering {name} for {backend.name} ({recipe.name})")
            calibration = [c[0] for c in calls[name]] if calls else []
            example = calls[name][0][0] if calls else component.example_inputs(
                torch.Generator().manual_seed(0))
            sites = warp_sites(model, component, example)
            rows = backend.check(component, example, recipe.for_component(name), calibration,
                                 Path(workdir), sites)
            if gpu is not None and gpu.ready:
                progress(f"compiling {name} with LiteRT's GPU accelerator (software Vulkan)")
                verdict = accelerator.place(Path(workdir) / f"{name}{backend.suffix}", name)
                gpu_placement(rows, sites, verdict)
                verdicts.append(verdict.as_dict())
            ops += rows
            warps += sites
    return PlacementReport(model_id, backend.name, recipe.name, TARGETS[backend.name], ops, warps,
                           verdicts, gpu.problem if gpu is not None else None)


def _verdict_line(v: dict) -> str:
    if v["crash"]:
        return f"  {v['model']}: {v['crash']}" + (f", first crashing op {v['crash_op']}"
                                                 if v["crash_op"] else "")
    state = "fully accelerated" if v["fully_accelerated"] else "NOT fully accelerated"
    return f"  {v['model']}: {state}, {v['gpu_ops']} ops on the GPU, {v['cpu_ops']} on the CPU"


def _cell(where) -> str:
    return ", ".join(f"{place} {n}" for place, n in where.most_common()) if where else "-"


def render_table(report: PlacementReport) -> str:
    """The report as aligned text: ops per component, then every warp call with its fix."""
    head = ["component", "op", "count", *report.targets]
    rows = [[r.component, r.op, str(r.count), *(_cell(r.where.get(t)) for t in report.targets)]
            for r in report.ops]
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    out = [f"{report.model_id} · {report.backend} · recipe {report.recipe}: where each op runs",
           line(head), *map(line, rows), ""]
    predicted = PREDICTED.get(report.backend, {})
    out += [f"{t}: {why}" for t, why in predicted.items()]
    if report.backend == "tflite":
        out += ["gpu: LiteRT's GPU accelerator, compiled for real on this host's software Vulkan "
                "device" if not report.gpu_problem else f"gpu: not run: {report.gpu_problem}"]
        out += [_verdict_line(v) for v in report.accelerators]
    out += ["", "warp call sites:"]
    for w in report.warps:
        out.append(f"- {w.component}: {w.impl}, {w.mode}, padding={w.padding_mode}, "
                   f"align_corners={w.align_corners}, rank {w.rank}, image {list(w.image_shape)} "
                   f"grid {list(w.grid_shape)}, {sum(w.ops.values())} ops")
        for t in report.targets:
            out.append(f"    {t}: {w.where.get(t, '-')}")
            if w.fix.get(t):
                out.append(f"      fix: {w.fix[t]}")
    totals = []
    for t in report.targets:
        places = Counter()
        for r in report.ops:
            for place, n in r.where.get(t, {}).items():
                places[place.split(" (")[0]] += n  # "nnapi (API 29+)" counts as nnapi
        totals.append(f"{t}: {_cell(places)}")
    out += ["", "totals: " + " | ".join(totals)]
    return "\n".join(out)
