from __future__ import annotations

from pathlib import Path

import click

from mpkit.cli.common import echo_json, json_option, progress
from mpkit.demo import run_demo

DEFAULT_MODEL = "mp-tiny"


@click.command("demo")
@click.option("--model", "model_id", default=DEFAULT_MODEL, show_default=True)
@click.option("-o", "--output", default="out/demo", show_default=True,
              type=click.Path(path_type=Path), help="folder for the video, bundles and report")
@click.option("--frames", default=30, show_default=True, type=click.IntRange(min=1),
              help="benchmark frames per bundle")
@json_option
def demo(model_id: str, output: Path, frames: int, as_json: bool) -> None:
    """The main job: animate a bundled photo, export TFLite and ExecuTorch bundles, benchmark
    them on a virtual device through real adb, and write the report."""
    result = run_demo(model_id, output, frames, progress=progress)
    if as_json:
        echo_json({"video": result.video, "bundles": result.bundles, "run_id": result.run_id,
                   "report_html": result.report_html, "report_md": result.report_md,
                   "host_measured": True})
        return
    click.echo(f"animation: {result.video}")
    click.echo(f"bundles:   {', '.join(str(b) for b in result.bundles)}")
    click.echo(f"report:    {result.report_html} (and {result.report_md.name}); "
               "figures are host-measured on a virtual device, not phone figures")
