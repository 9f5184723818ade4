from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click
from tqdm import tqdm

from mpkit import logs
from mpkit.cli.common import echo_json, json_option, say
from mpkit.models import zoo
from mpkit.pipeline.render import animate_video


def resolve_checkpoint(model_id: str, checkpoint: Path | None) -> Path | None:
    return checkpoint if checkpoint is not None else zoo.default_checkpoint(model_id)


@click.command("animate")
@click.argument("model_id")
@click.option("--source", required=True, type=click.Path(path_type=Path), help="the photo")
@click.option("--driving", required=True, type=click.Path(path_type=Path), help="driving video")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="out .mp4")
@click.option("--checkpoint", type=click.Path(path_type=Path),
              help=".safetensors weights (default: the model's shipped checkpoint, if any)")
@click.option("--side-by-side", is_flag=True, help="source | driving | generated")
@json_option
def animate(model_id: str, source: Path, driving: Path, output: Path, checkpoint: Path | None,
            side_by_side: bool, as_json: bool) -> None:
    """Animate the face in SOURCE with the motion of DRIVING (eager PyTorch on this host)."""
    model = zoo.build(model_id, resolve_checkpoint(model_id, checkpoint))
    if not model.trained:
        say(f"warning: {model_id} has no trained weights: the output is UNTRAINED "
            "(stamped on every frame)")
    bar: tqdm | None = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        bar = bar or tqdm(desc="frames", unit="frame", total=total, file=logs.terminal())
        bar.update(done - bar.n)

    result = animate_video(model, source, driving, output, side_by_side, progress)
    if bar is not None:
        bar.close()
    if result.faces_in_source > 1:
        say(f"note: {result.faces_in_source} faces in {source}; animated the largest")
    if as_json:
        echo_json({**asdict(result), "fps": result.fps, "host_measured": True})
        return
    click.echo(f"{result.output}: {result.frames} frames, {result.fps:.1f} frames/s "
               f"(host-measured, eager PyTorch{'' if result.trained else ', UNTRAINED'})")
