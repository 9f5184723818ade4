from __future__ import annotations

from dataclasses import asdict

import click

from mpkit.cli.common import echo_json, json_option
from mpkit.errors import MpkitError
from mpkit.models import zoo
from mpkit.models.card import write_card
from mpkit.models.config import load_config
from mpkit.models.measure import measure
from mpkit.pipeline import pose_bank as bank


@click.group("models")
def models() -> None:
    """The MobilePortrait variants: measured MACs and parameters."""


def _summary(model_id: str) -> dict:
    cfg = load_config(model_id)
    stats = measure(zoo.build(model_id))
    return {
        "id": model_id,
        "frame_gmacs": round(stats.stage_gmacs("frame"), 3),
        "source_gmacs": round(stats.stage_gmacs("source"), 3),
        "params_m": round(stats.params_m, 2),
        "paper_gflops": cfg.paper_gflops,
        "paper_params_m": cfg.paper_params_m,
        "trained": zoo.default_checkpoint(model_id) is not None,
        "components": [asdict(c) for c in stats.components],
    }


@models.command("list")
@json_option
def list_(as_json: bool) -> None:
    """All variants with measured frame-stage MACs and parameters next to the paper's."""
    rows = [_summary(i) for i in zoo.model_ids()]
    if as_json:
        echo_json(rows)
        return
    click.echo(f"{'id':10} {'frame GMACs':>12} {'paper':>6} {'params M':>9} {'paper':>6} "
               f"{'source GMACs':>13}  weights")
    for r in rows:
        click.echo(f"{r['id']:10} {r['frame_gmacs']:12.2f} {r['paper_gflops'] or '-':>6} "
                   f"{r['params_m']:9.1f} {r['paper_params_m'] or '-':>6} "
                   f"{r['source_gmacs']:13.2f}  {'trained' if r['trained'] else 'untrained'}")


@models.command("show")
@click.argument("model_id")
@json_option
def show(model_id: str, as_json: bool) -> None:
    """One variant: configuration summary and per-component compute."""
    r = _summary(model_id)
    if as_json:
        echo_json(r)
        return
    click.echo(f"{r['id']}: {load_config(model_id).description}")
    click.echo(f"frame stage {r['frame_gmacs']:.2f} GMACs, source stage {r['source_gmacs']:.2f} "
               f"GMACs, {r['params_m']:.1f} M parameters, "
               f"{'trained' if r['trained'] else 'untrained (no weights shipped)'}")
    for c in r["components"]:
        click.echo(f"  {c['name']:13} {c['stage']:6} {c['gmacs']:8.3f} GMACs "
                   f"{c['params_m']:8.2f} M params")


@models.command("card")
@click.argument("model_id")
def card(model_id: str) -> None:
    """Measure the variant and write models/<id>/card.md."""
    path = write_card(load_config(model_id), measure(zoo.build(model_id)),
                      zoo.default_checkpoint(model_id))
    click.echo(str(path))



@models.command("pose-bank")
@click.argument("model_id")
@click.option("--check", is_flag=True,
              help="compare with the stored bank instead of writing it; exit 1 if they differ")
def pose_bank(model_id: str, check: bool) -> None:
    """Measure the variant's pose bank from the training ranges of models/clips.yaml and write
    models/<id>/pose_bank.json."""
    measured = bank.measure_for_model(model_id, bank.training_clips(), write=not check)
    clips = ", ".join(f"{video} [{start}, {stop})"
                      for video, start, stop in measured.measured_from["clips"])
    click.echo(f"{model_id}: {measured.views} poses measured from "
               f"{measured.measured_from['frames']} frames of {clips}")
    for t, affine in enumerate(measured.affines):
        rows = "; ".join(" ".join(f"{v:.3g}" for v in row) for row in affine)
        click.echo(f"  pose {t}: [{rows}]")
    path = bank.bank_path(model_id)
    if not check:
        click.echo(f"wrote {path}")
    elif why := bank.difference(model_id, measured):
        raise MpkitError(f"{why}: write the measured one with `mpkit models pose-bank "
                         f"{model_id}`")
    else:
        click.echo(f"{path} is the measured bank")
