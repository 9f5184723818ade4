from __future__ import annotations

from pathlib import Path

import click

from mpkit.cli.animate import resolve_checkpoint
from mpkit.cli.common import echo_json, json_option, say
from mpkit.errors import DependencyError
from mpkit.models import zoo
from mpkit.models.config import models_dir
from mpkit.metrics.identity import MEANING, IdentityEmbedder
from mpkit.train import eval_plan
from mpkit.train.eval_run import run_evaluation
from mpkit.train.eval_targets import load_targets


@click.command("eval")
@click.argument("model_id")
@click.option("--checkpoint", type=click.Path(path_type=Path),
              help="weights (default: the model's shipped checkpoint)")
@click.option("--data", type=click.Path(path_type=Path),
              help="clips YAML whose held-out frames, clips and photos are evaluated (default: "
              "the one models/<id>/train.yaml names)")
@click.option("--frames", default=48, show_default=True, type=click.IntRange(2),
              help="driving frames per held-out range (runs of 8 consecutive frames, spread)")
@click.option("--video", "videos", multiple=True, type=click.Path(path_type=Path),
              help="instead of --data: a clip whose tail is evaluated; repeatable")
@click.option("--photo", "photos", multiple=True, type=click.Path(path_type=Path),
              help="with --video: a source photo driven by the first video; repeatable")
@click.option("--holdout", default=0.2, show_default=True,
              type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="with --video: the clip's tail fraction used as driving frames")
@click.option("--ablation", "ablations", multiple=True, metavar="ID=WEIGHTS",
              help="another model evaluated on the same frames, e.g. mp-tiny-nk=w.safetensors")
@click.option("-o", "--output", default="out/eval", show_default=True,
              type=click.Path(path_type=Path), help="folder for plots and side-by-side videos")
@click.option("--record", is_flag=True,
              help="also write numerics.yaml, the per-frame plots and the card still to "
              "models/<id>/")
@json_option
def evaluate(model_id, checkpoint, data, frames, videos, photos, holdout, ablations, output,
             record, as_json):
    """Self- and cross-reenactment on held-out clips, frames and people, with identity-copy and
    ablation baselines; checks models/eval_targets.yaml on the held-out cases."""
    plan, plan_source = eval_plan.for_model(model_id, data, list(videos), list(photos), holdout,
                                            frames)
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
    numerics = run_evaluation(models, weights, plan, plan_source,
                              load_targets(models_dir() / "eval_targets.yaml"), identity,
                              identity_note, output, models_dir() / model_id if record else None,
                              progress=lambda case: say(f"evaluating {case}"))
    if as_json:
        echo_json(numerics)
        return
    _print(numerics)


def _print(numerics: dict) -> None:
    for section in numerics["sections"]:
        click.echo(f"{section['kind'].replace('_', '-')}, {section['people']}:")
        for case, figures in section["cases"].items():
            seen = figures.get("trained_on_by")
            click.echo(f"  {case} ({figures['frames']} frames)"
                       + (f": NOT held out for {', '.join(seen)}, whose checkpoint trained on "
                          "these frames" if seen else ""))
            for name, summary in figures["methods"].items():
                values = ", ".join(f"{k} {v:.3f}" for k, v in summary.items())
                click.echo(f"    {name:16} {values}")
    targets = numerics["targets"]
    if targets:
        met = sum(t["met"] for t in targets)
        click.echo(f"targets (models/eval_targets.yaml): {met} of {len(targets)} met")
        for t in targets:
            if not t["met"]:
                click.echo(f"  not met: {t['case']}: {t['figure']} {t['value']:.3f}, "
                           f"needs {t['target']}")
