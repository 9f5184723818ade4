from __future__ import annotations

import json
from pathlib import Path

import click

from mpkit.cli.common import json_option, say
from mpkit.landmarks.annotate import draw_to, landmarks_of, record
from mpkit.landmarks.face import FaceLandmarker
from mpkit.media.kind import is_video


@click.command("landmarks")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="draw the landmarks into this .png/.jpg or .mp4")
@json_option
def landmarks(path: Path, output: Path | None, as_json: bool) -> None:
    """468 face-mesh points of IMAGE or of every frame of VIDEO (tracked)."""
    landmarker = FaceLandmarker()
    if output is not None:
        frames = draw_to(path, output, landmarker)
        say(f"{output} ({frames} frame{'s' if frames != 1 else ''})")
        return
    video = is_video(path)
    records = [record(face, i if video else None)
               for i, (_, face) in enumerate(landmarks_of(path, landmarker))]
    if as_json:
        click.echo(json.dumps(records if video else records[0]))
        return
    for i, r in enumerate(records):
        where = f"frame {i}: " if video else ""
        note = f" (largest of {r['faces_found']} faces)" if r["faces_found"] > 1 else ""
        click.echo(f"{where}{len(r['points'])} points, presence {r['presence']:.3f}{note}")

