from __future__ import annotations

from pathlib import Path

import click

from mpkit.demo import run_demo

DEFAULT_MODEL = "mp-tiny"


@click.command("demo")
@click.option("--model", "model_id", default=DEFAULT_MODEL, show_default=True)
@click.option("-o", "--output-dir", default="out/demo", show_default=True,
              type=click.Path(path_type=Path))
@click.option("--frames", default=30, show_default=True, help="benchmark frames per bundle")
def demo(model_id: str, output_dir: Path, frames: int) -> None:
    """The main job: animate a bundled photo, export TFLite and ExecuTorch bundles, benchmark
    them on a virtual device through real adb, and write the report."""
    result = run_demo(model_id, output_dir, frames, progress=lambda m: click.echo(f"... {m}",
                                                                                  err=True))
    click.echo(f"animation: {result.video}")
    click.echo(f"bundles:   {', '.join(str(b) for b in result.bundles)}")
    click.echo(f"report:    {result.report_html} (and {result.report_md.name}); "
               "figures are host-measured on a virtual device, not phone figures")


COMMANDS = [demo]
