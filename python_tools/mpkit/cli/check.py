from __future__ import annotations

import json
from pathlib import Path

import click

from mpkit.cli.animate import resolve_checkpoint
from mpkit.cli.common import BACKEND, RECIPE, json_option, progress
from mpkit.export.check import check as run_check, render_table


@click.command("check")
@click.argument("model_id")
@click.option("--backend", required=True, type=BACKEND)
@click.option("--recipe", default="fp32", show_default=True, type=RECIPE,
              help="quantization/recipes/<name>.yaml")
@click.option("--checkpoint", type=click.Path(path_type=Path))
@json_option
def check(model_id, backend, recipe, checkpoint, as_json):
    """Where every op and every warp call will run (delegated / CPU fallback), per target."""
    report = run_check(model_id, backend, recipe, resolve_checkpoint(model_id, checkpoint),
                       progress=progress)
    click.echo(json.dumps(report.as_dict(), indent=2) if as_json else render_table(report))
