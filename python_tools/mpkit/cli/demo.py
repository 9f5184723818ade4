from __future__ import annotations

from pathlib import Path

import click

from mpkit.cli.animate import animate
from mpkit.media import assets as asset_lib

DEFAULT_MODEL = "mp-tiny"


@click.command("demo")
@click.option("--model", "model_id", default=DEFAULT_MODEL, show_default=True)
@click.option("-o", "--output-dir", default="out/demo", show_default=True,
              type=click.Path(path_type=Path))
@click.pass_context
def demo(ctx: click.Context, model_id: str, output_dir: Path) -> None:
    """The main job on this host: fetch the sample assets and animate a bundled photo with the
    bundled talking-head video."""
    asset_lib.fetch(progress=lambda n, s: click.echo(f"{s:8} {n}", err=True) if s != "cached"
                    else None)
    ctx.invoke(animate, model_id=model_id, source=asset_lib.asset_path("obama.jpg"),
               driving=asset_lib.asset_path("carphone.mp4"),
               output=output_dir / f"{model_id}-obama-carphone.mp4", checkpoint=None,
               side_by_side=True)


COMMANDS = [demo]
