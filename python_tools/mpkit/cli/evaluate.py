from __future__ import annotations

from pathlib import Path

import click

from mpkit.cli.animate import resolve_checkpoint
from mpkit.errors import DependencyError
from mpkit.media.assets import sha256_file
from mpkit.models import zoo
from mpkit.models.checkpoint import read_metadata
from mpkit.models.config import models_dir
from mpkit.metrics.identity import SAME_PERSON, IdentityEmbedder
from mpkit.train import eval_report
from mpkit.train.evaluate import cross_reenactment, self_reenactment


@click.command("eval")
@click.argument("model_id")
@click.option("--checkpoint", type=click.Path(path_type=Path),
              help="weights (default: the model's shipped checkpoint)")
@click.option("--video", "videos", multiple=True, required=True, type=click.Path(path_type=Path),
              help="self-reenactment clip (its held-out tail is evaluated); repeatable")
@click.option("--photo", "photos", multiple=True, type=click.Path(path_type=Path),
              help="cross-reenactment source photo, driven by the first --video; repeatable")
@click.option("--ablation", "ablations", multiple=True, metavar="ID=WEIGHTS",
              help="another model evaluated on the same frames, e.g. mp-tiny-nk=w.safetensors")
@click.option("--holdout", default=0.2, show_default=True,
              help="the clip's tail fraction used as driving frames (keep it = training holdout)")
@click.option("-o", "--output-dir", default="out/eval", show_default=True,
              type=click.Path(path_type=Path))
@click.option("--record", is_flag=True, help="also write models/<id>/numerics.yaml")
def evaluate(model_id, checkpoint, videos, photos, ablations, holdout, output_dir, record):
    """Self- and cross-reenactment metrics with identity-copy and ablation baselines."""
    weights = resolve_checkpoint(model_id, checkpoint)
    models = {model_id: zoo.build(model_id, weights)}
    for spec in ablations:
        other, _, path = spec.partition("=")
        models[other] = zoo.build(other, Path(path) if path else None)
    untrained = [name for name, m in models.items() if not m.trained]
    if untrained:
        click.echo(f"warning: untrained: {', '.join(untrained)}", err=True)
    try:
        identity = IdentityEmbedder()
        identity_note = (f"dlib ResNet embedding distance to the real frame (self) or the source "
                         f"photo (cross); under {SAME_PERSON} = same person for dlib")
    except DependencyError as e:
        identity, identity_note = None, f"not measured: {e}"
        click.echo(f"warning: identity distance {identity_note}", err=True)
    output_dir.mkdir(parents=True, exist_ok=True)
    numerics = {"model": model_id, "checkpoint": _describe(weights),
                "ablations": {n: _describe(Path(s.partition('=')[2])) for n, s in
                              zip(list(models)[1:], ablations)},
                "holdout": holdout, "identity_distance": identity_note,
                "self_reenactment": {}, "cross_reenactment": {}}
    sections = []
    for video in videos:
        real, runs = self_reenactment(models, video, holdout, identity)
        sections.append((real, "real", runs))
        numerics["self_reenactment"][video.name] = {
            "frames": len(real), **{n: r.summary() for n, r in runs.items()}}
        eval_report.side_by_side(output_dir / f"self-{video.stem}.mp4", real, "real", runs, 10)
        eval_report.plot(output_dir / f"self-{video.stem}.png", runs,
                         ["psnr_db", "face_psnr_db", "landmark_distance_px",
                          "expression_distance_px", "identity_distance"],
                         f"self-reenactment, held-out frames of {video.name}")
    for photo in photos:
        driving, runs = cross_reenactment(models, photo, videos[0], identity)
        sections.append((driving, "driving", runs))
        key = f"{photo.stem} <- {videos[0].name}"
        numerics["cross_reenactment"][key] = {
            "frames": len(driving), **{n: r.summary() for n, r in runs.items()}}
        eval_report.side_by_side(output_dir / f"cross-{photo.stem}.mp4", driving, "driving",
                                 runs, 10)
        eval_report.plot(output_dir / f"cross-{photo.stem}.png", runs,
                         ["expression_distance_px", "identity_distance", "face_found"],
                         f"cross-reenactment: {key}")
    eval_report.write_numerics(output_dir / "numerics.yaml", numerics)
    eval_report.still(output_dir / "eval_still.jpg", sections)
    if record:
        eval_report.write_numerics(models_dir() / model_id / "numerics.yaml", numerics)
        eval_report.still(models_dir() / model_id / "eval_still.jpg", sections)
    _print(numerics)


def _describe(path: Path | None) -> dict | None:
    if path is None or not path.is_file():
        return None
    meta = read_metadata(path)
    return {"file": path.name, "sha256": sha256_file(path), "step": meta.get("step")}


def _print(numerics: dict) -> None:
    for section in ("self_reenactment", "cross_reenactment"):
        for clip, methods in numerics[section].items():
            click.echo(f"{section} {clip} ({methods['frames']} frames):")
            for name, summary in methods.items():
                if name == "frames":
                    continue
                figures = ", ".join(f"{k} {v:.3f}" for k, v in summary.items())
                click.echo(f"  {name:16} {figures}")


COMMANDS = [evaluate]
