from __future__ import annotations

from pathlib import Path

import click

from mpkit.cli.animate import resolve_checkpoint
from mpkit.cli.common import echo_json, json_option, say
from mpkit.errors import DependencyError
from mpkit.models import zoo
from mpkit.models.config import models_dir
from mpkit.metrics.identity import MEANING, IdentityEmbedder
from mpkit.train.eval_run import run_evaluation


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
              type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="the clip's tail fraction used as driving frames (keep it = training holdout)")
@click.option("-o", "--output", default="out/eval", show_default=True,
              type=click.Path(path_type=Path), help="folder for plots and side-by-side videos")
@click.option("--record", is_flag=True,
              help="also write numerics.yaml, the per-frame plots and the card still to "
              "models/<id>/")
@json_option
def evaluate(model_id, checkpoint, videos, photos, ablations, holdout, output, record, as_json):
    """Self- and cross-reenactment metrics with identity-copy and ablation baselines."""
    weights = {model_id: resolve_checkpoint(model_id, checkpoint)}
    for spec in ablations:
        other, _, path = spec.partition("=")
        weights[other] = Path(path) if path else None
    models = {name: zoo.build(name, path) for name, path in weights.items()}
    untrained = [name for name, m in models.items() if not m.trained]
    if untrained:
        say(f"warning: untrained: {', '.join(untrained)}")
    try:
        identity, identity_note = IdentityEmbedder(), MEANING
    except DependencyError as e:
        identity, identity_note = None, f"not measured: {e}"
        say(f"warning: identity distance {identity_note}")
    numerics = run_evaluation(models, weights, list(videos), list(photos), holdout, identity,
                              identity_note, output,
                              models_dir() / model_id if record else None)
    if as_json:
        echo_json(numerics)
        return
    _print(numerics)


def _print(numerics: dict) -> None:
    for section in ("self_reenactment", "cross_reenactment"):
        for clip, methods in numerics[section].items():
            click.echo(f"{section} {clip} ({methods['frames']} frames):")
            for name, summary in methods.items():
                if name == "frames":
                    continue
                figures = ", ".join(f"{k} {v:.3f}" for k, v in summary.items())
                click.echo(f"  {name:16} {figures}")

