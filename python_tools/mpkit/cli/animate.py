from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click
from tqdm import tqdm

from mpkit import logs
from mpkit.cli.common import echo_json, json_option, say
from mpkit.models import zoo


def resolve_checkpoint(model_id: str, checkpoint: Path | None) -> Path | None:
    return checkpoint if checkpoint is not None else zoo.default_checkpoint(model_id)


@click.command("animate")
@click.argument("model_id")
@click.option("--source", required=True, type=click.Path(path_type=Path), help="the photo")
@click.option("--driving", type=click.Path(path_type=Path), help="driving video")
@click.option("--audio", type=click.Path(path_type=Path),
              help="driving speech (wav, mp3, or a video's audio track); muxed into the output")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="out .mp4")
@click.option("--checkpoint", type=click.Path(path_type=Path),
              help=".safetensors weights (default: the model's shipped checkpoint, if any)")
@click.option("--audio-checkpoint", type=click.Path(path_type=Path),
              help="audio driver weights (default: models/<id>/audio.safetensors)")
@click.option("--fps", type=click.FloatRange(min=1, max=120), default=25.0, show_default=True,
              help="frame rate of an audio-driven video")
@click.option("--chunk-ms", type=click.FloatRange(min=1, max=1000), default=20.0,
              show_default=True, help="audio arrives in chunks of this length")
@click.option("--realtime", is_flag=True,
              help="feed the audio at its own pace, as a microphone would (latency with queueing)")
@click.option("--side-by-side", is_flag=True, help="source | driving | generated")
@json_option
def animate(model_id: str, source: Path, driving: Path | None, audio: Path | None, output: Path,
            checkpoint: Path | None, audio_checkpoint: Path | None, fps: float, chunk_ms: float,
            realtime: bool, side_by_side: bool, as_json: bool) -> None:
    """Animate the face in SOURCE with the motion of a DRIVING video, or make it speak AUDIO
    (eager PyTorch on this host)."""
    if (driving is None) == (audio is None):
        raise click.UsageError("give exactly one of --driving VIDEO and --audio FILE")
    model = zoo.build(model_id, resolve_checkpoint(model_id, checkpoint))
    if not model.trained:
        say(f"warning: {model_id} has no trained weights: the output is UNTRAINED "
            "(stamped on every frame)")
    bar: tqdm | None = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        bar = bar or tqdm(desc="frames", unit="frame", total=total, file=logs.terminal())
        bar.update(done - bar.n)

    if audio is not None:
        from mpkit.pipeline.speech import animate_speech

        result = animate_speech(model, zoo.audio_driver(model, audio_checkpoint), source, audio,
                                output, fps, chunk_ms, realtime, side_by_side, progress)
    else:
        from mpkit.pipeline.render import animate_video

        result = animate_video(model, source, driving, output, side_by_side, progress)
    if bar is not None:
        bar.close()
    if result.faces_in_source > 1:
        say(f"note: {result.faces_in_source} faces in {source}; animated the largest")
    if as_json:
        echo_json({**asdict(result), "render_fps": result.render_fps, "host_measured": True})
        return
    untrained = "" if result.trained else ", UNTRAINED"
    click.echo(f"{result.output}: {result.frames} frames, {result.render_fps:.1f} frames/s "
               f"rendered (host-measured, eager PyTorch{untrained})")
    if audio is not None:
        lat = result.latency
        click.echo(f"audio {result.audio_seconds:.2f} s at {fps:g} fps, muxed in; audio-to-frame "
                   f"latency in {result.chunk_ms:.0f} ms chunks"
                   f"{' paced in real time' if realtime else ''}: p50 {lat['p50_ms']:.1f}, "
                   f"p90 {lat['p90_ms']:.1f}, p99 {lat['p99_ms']:.1f} ms, plus "
                   f"{result.lookahead_ms:.0f} ms look-ahead (host-measured)")
