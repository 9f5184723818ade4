"""The `auto` recipe: per component, the cheapest candidate recipe whose end-to-end quality
stays above the gate, chosen greedily in order of frame-stage cost and recorded with reasons.
It chooses on the selection faces; the gate is then reported on the validation faces."""

from __future__ import annotations

import os
from dataclasses import replace

from mpkit.errors import MpkitError
from mpkit.export import validate
from mpkit.export.recipes import CalibrationSet, Recipe, load_recipe
from mpkit.models.measure import measure


def candidates(recipe: Recipe, backend) -> list[Recipe]:
    """The recipe's candidates this backend can run, each applying to any single component."""
    out = []
    for name in recipe.auto.candidates:
        cand = load_recipe(name)
        if cand.auto:
            raise MpkitError(f"recipe {recipe.name}: candidate {name} is itself an auto recipe")
        try:
            backend.check_precision(cand)
        except MpkitError:
            continue  # this backend cannot run it
        q = cand.quantize
        out.append(cand.model_copy(update={"quantize": q.model_copy(
            update={"components": None})}) if q else cand)
    return out


def _cost_order(model) -> list[str]:
    """Frame-stage components first, most GMACs first; then the source stage."""
    stats = measure(model).components
    return [c.name for c in sorted(stats, key=lambda c: (c.stage != "frame", -c.gmacs))]


def choose(lowering, selection: CalibrationSet, selection_ref: validate.Reference,
           recipe: Recipe, cands: list[Recipe]):
    """(parts by component name, decisions) with every component at its chosen precision,
    chosen on the `selection` faces (never the faces the bundle's gate is reported on)."""
    fp32 = load_recipe("fp32")
    model, gate = lowering.model, recipe.gate.end_to_end_psnr_db
    names = list(model.components())
    parts = {name: lowering.part(name, fp32) for name in names}
    decisions = []
    for name in _cost_order(model):
        tried, chosen = [], "fp32"
        for cand in cands:
            final = parts[name].entry.file
            trial_path = lowering.staging / f".trial-{cand.name}-{final}"
            trial = lowering.part(name, cand, trial_path)
            runners = {n: (trial if n == name else p).runner for n, p in parts.items()}
            e2e = validate.end_to_end(model, selection, selection_ref, runners)
            tried.append({"recipe": cand.name, "psnr_db_min": e2e["psnr_db_min"]})
            if e2e["psnr_db_min"] >= gate:
                os.replace(trial_path, lowering.staging / final)
                parts[name] = replace(trial, entry=trial.entry.model_copy(update={"file": final}))
                chosen = cand.name
                break
            trial_path.unlink()
        on = f"on the {selection.name} faces"
        why = (f"cheapest candidate with end-to-end PSNR ≥ {gate} dB {on}" if chosen != "fp32"
               else f"every candidate fell below {gate} dB end to end {on}")
        decisions.append({"component": name, "chosen": chosen, "tried": tried, "why": why})
    return parts, decisions
