"""Which delegates a bundle claims. Export validates on the default delegate's host check first
(its gate failing fails the export); then every further check runs (TFLite: LiteRT's real GPU
accelerator with fp16 allowed and with fp32 enforced, in a child process) on each component and
the whole pipeline, and the gate decides each delegate: one below it, or one that could not run
here, is not claimed and says why (with --ignore-gate, every delegate that ran is claimed).
A bundle with an audio component is also run end to end driven by speech, under the same gate."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from pathlib import Path

import numpy as np

from mpkit.errors import MpkitError
from mpkit.export import validate
from mpkit.export.backends.base import Backend, HostCheck, HostRunner
from mpkit.export.bundle import ComponentEntry
from mpkit.export.recipes import CalibrationSet, Recipe
from mpkit.models.audio import AudioComponent
from mpkit.models.portrait import PortraitModel

# end to end per check: {"video": figures, "speech": figures (bundles with an audio component)}
Whole = dict[str, dict]


def _worst(entries: list[ComponentEntry], check: str) -> str:
    """The component output furthest from float (lowest SQNR) on `check`."""
    name, figure, value = min(((e.name, k, v) for e in entries
                               for k, v in e.validation[check].items()), key=lambda t: t[2])
    return f"{name} {figure.removesuffix('_sqnr_db')} at {value} dB SQNR"


def validate_on_host(backend: Backend, recipe: Recipe, model: PortraitModel, cal: CalibrationSet,
                     ref: validate.Reference, parts: dict, staging: Path,
                     delegates: Collection[str] | None, ignore_gate: bool,
                     progress: Callable[[str], None]
                     ) -> tuple[list[ComponentEntry], list[str], dict]:
    """(component entries with every check's figures, the claimed delegates, the manifest's
    validation summary: end_to_end per check, delegates, passed). `parts` are the lowered
    components (`pipeline.Part`), already validated on the first check."""
    entries = [p.entry for p in parts.values()]
    if not backend.host_runnable:  # nothing here runs it: its target, validated on no host
        return entries, [backend.target], {"delegates": {backend.target: {
            "checks": [], "claimed": True, "passed": None,
            "why": f"not validated on a host: {backend.name} artifacts run only on a device "
                   "(measure their quality there: `mpkit bench run --capture N`)"}}}
    first, gate = backend.host_checks[0], recipe.gate.end_to_end_psnr_db
    progress(f"validating the whole pipeline end to end on {first.label}")
    e2e = {first.label: whole(model, cal, ref, {name: p.runner for name, p in parts.items()})}
    if (low := _below(first.label, e2e[first.label], gate)) and not ignore_gate:
        raise MpkitError(
            f"{backend.name}/{recipe.name}: end-to-end PSNR {', '.join(low)} is below the "
            f"recipe's gate of {gate} dB (worst component: {_worst(entries, first.label)}): "
            "use a recipe that keeps more in float, or --ignore-gate to keep it for experiments")
    figures, more, problems, digests = validate_further(
        backend, model, cal, ref, {e.name: staging / e.file for e in entries},
        {e.name: [o.name for o in e.outputs] for e in entries}, delegates, progress)
    e2e.update(more)
    entries = [e.model_copy(update={"validation": {**e.validation, **figures[e.name]}})
               for e in entries]
    claimed, per_delegate = claims(backend.host_checks, e2e, problems, digests, gate,
                                   ignore_gate)
    summary = {"end_to_end": {label: w["video"] for label, w in e2e.items()},
               "delegates": per_delegate,
               "passed": all(per_delegate[d]["passed"] for d in claimed)}
    if any("speech" in w for w in e2e.values()):
        summary["end_to_end_speech"] = {label: w["speech"] for label, w in e2e.items()}
    return entries, claimed, summary


def whole(model: PortraitModel, cal: CalibrationSet, ref: validate.Reference,
          runners: dict[str, Callable]) -> Whole:
    """The whole pipeline end to end with `runners` in place of components: video-driven, and
    speech-driven when an audio component is among them."""
    out = {"video": validate.end_to_end(model, cal, ref, runners)}
    if AudioComponent.name in runners:
        out["speech"] = validate.speech_end_to_end(model, cal, ref, runners)
    return out


def _below(label: str, figures: Whole, gate: float) -> list[str]:
    """Each end-to-end figure of check `label` under the gate, described."""
    return [f"{label}{'' if driven == 'video' else ' ' + driven} {f['psnr_db_min']} dB"
            for driven, f in figures.items() if f["psnr_db_min"] < gate]


def validate_further(backend: Backend, model: PortraitModel, cal: CalibrationSet,
                     ref: validate.Reference, paths: dict[str, Path],
                     outputs: dict[str, list[str]], delegates: Collection[str] | None,
                     progress: Callable[[str], None]
                     ) -> tuple[dict[str, dict[str, dict]], dict[str, Whole], dict[str, str],
                                dict[str, str]]:
    """(per component, figures per check), (end to end per check), (delegate → why it was not
    validated), (check → sha256 of every component output it computed) for every host check
    after the first; `delegates` limits which run."""
    figures: dict[str, dict[str, dict]] = {name: {} for name in paths}
    e2e: dict[str, dict] = {}
    problems: dict[str, str] = {}
    digests: dict[str, str] = {}
    for check in backend.host_checks[1:]:
        if check.delegate in problems:
            continue
        if delegates is not None and check.delegate not in delegates:
            problems[check.delegate] = "not asked for"
            continue
        progress(f"validating every component and the whole pipeline on {check.label}")
        try:
            with backend.check_runners(check, paths) as runners:
                digest = hashlib.sha256()
                got = {name: validate.component_figures(ref, name, _hashed(run, digest),
                                                        outputs[name])
                       for name, run in runners.items()}
                e2e[check.label] = whole(
                    model, cal, ref, {n: validate.as_component(r) for n, r in runners.items()})
        except MpkitError as e:
            problems[check.delegate] = str(e)
            progress(f"{check.delegate} is not claimed: {e}")
            continue
        for name, f in got.items():
            figures[name][check.label] = f
        digests[check.label] = digest.hexdigest()
    return figures, e2e, problems, digests


def _hashed(run: HostRunner, digest) -> HostRunner:
    """`run`, adding the bytes of every output it computes to `digest`."""
    def call(*inputs):
        outputs = run(*inputs)
        for o in outputs:
            digest.update(np.ascontiguousarray(o).tobytes())
        return outputs

    return call


def _same_outputs(checks: list[HostCheck], digests: dict[str, str]) -> str | None:
    """A note when a delegate's reduced-precision check computed bitwise what its fp32 check
    did: the device ignored the precision it was allowed (SwiftShader has no fp16 arithmetic),
    so the figure says nothing about a phone's fp16 rounding."""
    fp32 = [c.label for c in checks if c.fp32 and c.label in digests]
    alike = [c.label for c in checks if not c.fp32 and c.label in digests and fp32
             and digests[c.label] == digests[fp32[0]]]
    if not alike:
        return None
    return (f"{', '.join(alike)} computed bitwise the outputs of {fp32[0]} on every component "
            "call: this host's GPU device computes in fp32 even where fp16 is allowed, so "
            "fp16 rounding (a phone's default) is not measured here")


def claims(checks: tuple[HostCheck, ...], e2e: dict[str, Whole], problems: dict[str, str],
           digests: dict[str, str], gate: float, ignore_gate: bool
           ) -> tuple[list[str], dict[str, dict]]:
    """(the claimed delegates, default first; per delegate: its checks, claimed, passed, why,
    and a note when its checks cannot be told apart)."""
    out = {}
    for delegate in dict.fromkeys(c.delegate for c in checks):
        labels = [c.label for c in checks if c.delegate == delegate]
        if delegate in problems:
            out[delegate] = {"checks": labels, "claimed": False, "passed": None,
                             "why": f"not validated: {problems[delegate]}"}
            continue
        low = [d for label in labels for d in _below(label, e2e[label], gate)]
        why = (f"end to end within the {gate} dB gate on {', '.join(labels)}" if not low else
               f"end to end below the {gate} dB gate: {', '.join(low)}"
               + ("; kept by --ignore-gate" if ignore_gate else ""))
        out[delegate] = {"checks": labels, "claimed": not low or ignore_gate,
                         "passed": not low, "why": why}
        if note := _same_outputs([c for c in checks if c.delegate == delegate], digests):
            out[delegate]["note"] = note
    return [d for d, v in out.items() if v["claimed"]], out
