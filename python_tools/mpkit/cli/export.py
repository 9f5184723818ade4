from __future__ import annotations

from pathlib import Path

import click

from mpkit.cli.animate import resolve_checkpoint
from mpkit.cli.common import BACKEND, RECIPE, echo_json, json_option, progress
from mpkit.export import bundle as bundle_lib
from mpkit.export.pipeline import export as run_export


@click.command("export")
@click.argument("model_id")
@click.option("--backend", required=True, type=BACKEND)
@click.option("--recipe", default="fp32", show_default=True, type=RECIPE,
              help="quantization/recipes/<name>.yaml")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="bundle folder")
@click.option("--checkpoint", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="replace a non-empty output folder")
@click.option("--ignore-gate", is_flag=True, help="keep a bundle that fails its quality gate")
@click.option("--delegate", "delegates", multiple=True,
              help="validate (and claim) only these host delegates, e.g. --delegate cpu to skip "
                   "the slow software GPU (default: every one this host runs)")
@click.option("--audio", is_flag=True,
              help="add the model's audio component (speech driving), validated on speech too")
@click.option("--audio-checkpoint", type=click.Path(path_type=Path),
              help="the audio driver to export (default: models/<id>/audio.safetensors)")
@json_option
def export(model_id, backend, recipe, output, checkpoint, force, ignore_gate, delegates, audio,
           audio_checkpoint, as_json):
    """Lower → validate on real faces → bundle (manifest.json + component files)."""
    if audio_checkpoint and not audio:
        raise click.UsageError("--audio-checkpoint needs --audio")
    result = run_export(model_id, backend, recipe, output, resolve_checkpoint(model_id, checkpoint),
                        force, ignore_gate, progress=progress, delegates=delegates or None,
                        audio=audio, audio_checkpoint=audio_checkpoint)
    if as_json:
        echo_json({"bundle": result.out, "manifest": result.manifest.model_dump(mode="json")})
        return
    m = result.manifest
    e2e = m.validation.get("end_to_end") or {}
    quality = (("end-to-end PSNR min " + ", ".join(f"{k} {f['psnr_db_min']} dB"
                                                   for k, f in e2e.items())
                + f" over {next(iter(e2e.values()))['frames']} frames") if e2e
               else "not runnable on this host: validate on a device")
    click.echo(f"{result.out}: {len(m.components)} components, {quality}; validated for "
               f"{', '.join(m.delegates)}")
    if speech := m.validation.get("end_to_end_speech"):
        click.echo("  driven by speech: end-to-end PSNR min " + ", ".join(
            f"{k} {f['psnr_db_min']} dB" for k, f in speech.items())
            + f" over {next(iter(speech.values()))['frames']} frames")
    for name, d in m.validation.get("delegates", {}).items():
        if not d["claimed"]:
            click.echo(f"  {name} not claimed: {d['why']}")


@click.group("bundle")
def bundle() -> None:
    """Inspect and verify bundles."""


@bundle.command("verify")
@click.argument("path", type=click.Path(path_type=Path))
@json_option
def verify(path: Path, as_json: bool) -> None:
    """Re-check the manifest schema and every file's sha256."""
    manifest = bundle_lib.verify(path)
    if as_json:
        echo_json(manifest.model_dump(mode="json"))
        return
    click.echo(f"{path}: ok ({manifest.model_id}, {manifest.backend}, {manifest.precision}, "
               f"{len(manifest.components)} components, {len(manifest.helpers)} helpers)")
