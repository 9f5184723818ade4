"""`mpkit check`: lower every component for one backend and recipe and report where each op and
each warp call will run, without validating or bundling."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch

from mpkit.export import validate
from mpkit.export.backends import get_backend
from mpkit.export.placement import OpPlacement, WarpSite
from mpkit.export.recipes import load_calibration, load_recipe
from mpkit.models import zoo
from mpkit.models.portrait import Component, PortraitModel

TARGETS = {"executorch-xnnpack": ["xnnpack"], "executorch-vulkan": ["vulkan"],
           "executorch-qnn": ["qnn"], "tflite": ["cpu", "gpu", "nnapi"]}


@dataclass
class PlacementReport:
    model_id: str
    backend: str
    recipe: str
    targets: list[str]
    ops: list[OpPlacement]
    warps: list[WarpSite]

    def as_dict(self) -> dict:
        return {
            "model_id": self.model_id, "backend": self.backend, "recipe": self.recipe,
            "targets": self.targets,
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
    ops, warps = [], []
    with tempfile.TemporaryDirectory(prefix="mpkit-check-") as workdir:
        for name, component in model.components().items():
            progress(f"lowering {name} for {backend.name} ({recipe.name})")
            calibration = [c[0] for c in calls[name]] if calls else []
            example = calls[name][0][0] if calls else component.example_inputs(
                torch.Generator().manual_seed(0))
            sites = warp_sites(model, component, example)
            ops += backend.check(component, example, recipe.for_component(name), calibration,
                                 Path(workdir), sites)
            warps += sites
    return PlacementReport(model_id, backend.name, recipe.name, TARGETS[backend.name], ops, warps)


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
           line(head), *map(line, rows), "", "warp call sites:"]
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
