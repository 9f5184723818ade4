from __future__ import annotations

import json
from pathlib import Path

import click

from mpkit.cli.animate import resolve_checkpoint
from mpkit.export.check import check as run_check, render_table


@click.command("check")
@click.argument("model_id")
@click.option("--backend", required=True, help="executorch-xnnpack, executorch-vulkan, "
              "executorch-qnn or tflite")
@click.option("--recipe", "--precision", "recipe", default="fp32", show_default=True,
              help="quantization/recipes/<name>.yaml (fp32, fp16, mixed, int8)")
@click.option("--checkpoint", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def check(model_id, backend, recipe, checkpoint, as_json):
    """Where every op and every warp call will run (delegated / CPU fallback), per target."""
    report = run_check(model_id, backend, recipe, resolve_checkpoint(model_id, checkpoint),
                       progress=lambda m: click.echo(f"... {m}", err=True))
    click.echo(json.dumps(report.as_dict(), indent=2) if as_json else render_table(report))


COMMANDS = [check]
