"""`mpkit export`: lower every component → validate on real faces → bundle, atomically."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from mpkit.errors import MpkitError
from mpkit.export import auto, claims, validate
from mpkit.export.backends import get_backend
from mpkit.export.bundle import (
    SCHEMA_VERSION, ComponentEntry, HelperEntry, Manifest, TensorIO, file_entry, prepare_output,
    publish,
)
from mpkit.export.recipes import Recipe, load_calibration, load_recipe
from mpkit.media.assets import asset_path, sha256_file
from mpkit.models import zoo
from mpkit.models.audio import AudioComponent
from mpkit.models.measure import measure

# The phone runs these every frame too, so they travel in the bundle; with the fixed sample
# photo and driving clip the app renders for on-device quality checks.
HELPERS = {"face_detector": ("face_detection_short_range.tflite", "litert"),
           "face_mesh": ("face_landmark.tflite", "litert"),
           "segmenter": ("selfie_segmentation.tflite", "litert"),
           "sample_source": ("obama.jpg", "media"),
           "sample_driving": ("carphone.mp4", "media")}
# With an audio component: the speech the app drives the sample photo with (16 kHz mono PCM16;
# the audio driver's held-out clip).
SPEECH_HELPERS = {"sample_speech": ("librivox_0930.wav", "media")}
TOOLS = ("torch", "executorch", "litert-torch", "ai-edge-litert", "ai-edge-quantizer",
         "tflite-support", "mpkit")


@dataclass(frozen=True)
class Part:
    """One lowered component: its manifest entry and, when it runs here, its host runner."""

    entry: ComponentEntry
    runner: Callable | None


@dataclass(frozen=True)
class ExportResult:
    out: Path
    manifest: Manifest


def _tools() -> dict[str, str]:
    out = {}
    for name in TOOLS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def _io(specs) -> list[TensorIO]:
    return [TensorIO(name=s.name, shape=list(s.shape), dtype=s.dtype, range=s.range)
            for s in specs]


class _Lowering:
    """Lowers components into the staging folder and validates each on the reference calls."""

    def __init__(self, backend, model, components, ref, calib, staging: Path,
                 progress: Callable[[str], None]):
        self.backend, self.model, self.ref, self.calib = backend, model, ref, calib
        self.components, self.staging, self.progress = components, staging, progress

    def part(self, name: str, recipe: Recipe, path: Path | None = None) -> Part:
        component = self.components[name]
        path = path or self.staging / f"{name}{self.backend.suffix}"
        self.progress(f"lowering {name} for {self.backend.name} ({recipe.name})")
        self.backend.lower(component, self.ref.calls[name][0][0], recipe,
                           [c[0] for c in self.calib.calls[name]], path)
        inputs, outputs = component.io_spec()
        figures, runner = {}, None
        if self.backend.host_runnable:  # on the default delegate's check; the others later
            run = self.backend.host_runner(path)
            figures = {self.backend.host_checks[0].label: validate.component_figures(
                self.ref, name, run, [o.name for o in outputs])}
            runner = validate.as_component(run)
        entry = ComponentEntry(name=name, stage=component.stage, precision=recipe.precision,
                               inputs=_io(inputs), outputs=_io(outputs), validation=figures,
                               **file_entry(path))
        return Part(entry, runner)


def export(model_id: str, backend_name: str, recipe_name: str, out: Path,
           checkpoint: Path | None = None, force: bool = False, ignore_gate: bool = False,
           progress: Callable[[str], None] = lambda message: None,
           warp: str | None = None, delegates: Collection[str] | None = None,
           audio: bool = False, audio_checkpoint: Path | None = None) -> ExportResult:
    """`warp` overrides the backend's warp implementation (for A/B measurements); `delegates`
    limits the host delegates validated (None: every one this host runs; the default one
    always runs); `audio` adds the model's audio component (its driver from
    `audio_checkpoint` or the shipped one), validated on speech like the rest."""
    out = Path(os.path.abspath(out))  # `-o .` has a parent to stage the bundle beside
    backend = get_backend(backend_name)
    backend.check_available()
    recipe = load_recipe(recipe_name)
    candidates = auto.candidates(recipe, backend) if recipe.auto else []
    if recipe.auto and not backend.host_runnable:
        raise MpkitError(f"recipe {recipe.name} chooses by validating on this host, and "
                         f"{backend.name} artifacts cannot run here: pick a fixed recipe")
    if not recipe.auto:
        backend.check_precision(recipe)
    elif audio:
        raise MpkitError(f"recipe {recipe.name} chooses precisions on video-driven frames only, "
                         "not for an audio component: export --audio with a fixed recipe")
    # Three disjoint sets of faces: quantization calibrates on one, `auto` chooses on another,
    # and the bundle's figures and gate are measured on the third.
    calibration, validation = load_calibration("faces"), load_calibration("validation")
    selection = load_calibration("selection") if recipe.auto else None
    model = zoo.build(model_id, checkpoint)
    driver = zoo.audio_driver(model, audio_checkpoint) if audio else None
    components = {**model.components(),
                  **({AudioComponent.name: AudioComponent(driver)} if driver else {})}
    staging = prepare_output(out, force)
    try:
        model.warp.impl = warp or backend.warp
        progress(f"eager float reference on the {validation.name} faces")
        ref = validate.reference(model, validation, driver)
        calib = ref
        if recipe.quantize or any(c.quantize for c in candidates):
            progress(f"recording calibration inputs on the {calibration.name} faces")
            calib = validate.reference(model, calibration, driver)
        lowering = _Lowering(backend, model, components, ref, calib, staging, progress)
        summary = {"calibration": calibration.name if calib is not ref else None,
                   "selection": selection.name if selection else None,
                   "validation": validation.name,
                   "host_validated": backend.host_runnable, "gate": recipe.gate.model_dump(),
                   "quantize": recipe.quantize.model_dump() if recipe.quantize else None}
        if selection:
            progress(f"eager float reference on the {selection.name} faces (auto chooses there)")
            parts, summary["auto"] = auto.choose(
                lowering, selection, validate.reference(model, selection), recipe, candidates)
        else:
            parts = {name: lowering.part(name, recipe.for_component(name))
                     for name in components}
        entries, claimed, checked = claims.validate_on_host(
            backend, recipe, model, validation, ref, parts, staging, delegates, ignore_gate,
            progress)
        summary.update(checked)
        helpers = []
        for role, (asset, runtime) in {**HELPERS, **(SPEECH_HELPERS if driver else {})}.items():
            shutil.copyfile(asset_path(asset), staging / asset)
            helpers.append(HelperEntry(name=role, role=role, runtime=runtime,
                                       **file_entry(staging / asset)))
        stats = measure(model)
        manifest = Manifest(
            schema_version=SCHEMA_VERSION, model_id=model_id, backend=backend.name,
            runtime=backend.runtime, delegates=claimed, precision=recipe.precision,
            recipe=recipe.name, warp=model.warp.impl, trained=model.trained,
            checkpoint_sha256=sha256_file(checkpoint) if checkpoint else None,
            frame_gmacs=round(stats.stage_gmacs("frame"), 4), params_m=round(stats.params_m, 3),
            components=entries, helpers=helpers, validation=summary, tools=_tools(),
            audio_features=driver.spec if driver else None,
            audio_checkpoint_sha256=sha256_file(
                audio_checkpoint or zoo.default_audio_checkpoint(model_id)) if driver else None,
            created_utc=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        publish(staging, manifest, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportResult(out, manifest)
