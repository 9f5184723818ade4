from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click
from tqdm import tqdm

from mpkit import logs
from mpkit.cli.common import echo_json, json_option
from mpkit.models.checkpoint import save_weights
from mpkit.models.config import load_config, models_dir
from mpkit.train import audio
from mpkit.train.config import load_train_config
from mpkit.train.loop import train as run_training


@click.command("train")
@click.argument("model_id")
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="training YAML (default: models/<id>/train.yaml)")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="run folder: checkpoints, metrics.jsonl, losses.png (default: out/runs/<id>)")
@click.option("--fresh", is_flag=True, help="start over instead of resuming the run folder")
@json_option
def train(model_id: str, config_path: Path | None, output: Path | None, fresh: bool,
          as_json: bool) -> None:
    """Train MODEL_ID on real talking-head frames; resumes where the run folder left off."""
    load_config(model_id)
    cfg = load_train_config(config_path or models_dir() / model_id / "train.yaml")
    if cfg.model != model_id:
        raise click.UsageError(f"the config trains {cfg.model}, not {model_id}")
    bar = tqdm(total=cfg.steps, desc="train", unit="step", file=logs.terminal())

    def progress(metrics: dict) -> None:
        bar.n = metrics["step"]
        bar.set_postfix(loss=f"{metrics['total']:.3f}", l1=f"{metrics['l1']:.3f}")

    result = run_training(cfg, output or Path("out/runs") / model_id, resume=not fresh,
                          progress=progress)
    bar.close()
    if as_json:
        echo_json(asdict(result))
        return
    click.echo(f"{result.run_dir}: step {result.step}, {result.seconds:.0f} s this session, "
               f"last loss {result.last.get('total', float('nan')):.4f}")


@click.command("train-audio")
@click.argument("model_id")
@click.option("--steps", type=click.IntRange(min=1), default=1500, show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="checkpoint (default: models/<id>/audio.safetensors, the shipped one)")
@json_option
def train_audio(model_id: str, steps: int, output: Path | None, as_json: bool) -> None:
    """Train MODEL_ID's audio driver on the aligned speech of models/audio_clips.yaml (about a
    minute on a CPU, so it starts over each time) and print its lip sync on the held-out clips
    next to shuffled audio and silence."""
    from mpkit.models import zoo

    model = zoo.build(model_id, zoo.default_checkpoint(model_id))
    driver, losses = audio.train(model, steps=steps)
    figures = audio.sync_figures(driver)
    path = output or models_dir() / model_id / "audio.safetensors"
    save_weights(driver, path, {"steps": steps, "final_loss": losses[-1], "sync": figures})
    if as_json:
        echo_json({"checkpoint": str(path), "steps": steps, "sync": figures})
        return
    click.echo(f"{path}: {steps} steps, last loss {losses[-1]:.4f}")
    click.echo(f"held-out lip sync over {figures['frames']:.0f} frames (correlation of the "
               f"predicted mouth opening with the viseme target): audio {figures['audio']:.3f}, "
               f"shuffled {figures['shuffled']:.3f}, silent {figures['silent']:.3f}")


@click.command("eval-audio")
@click.argument("model_id")
@click.option("--source", "photos", multiple=True, type=click.Path(path_type=Path),
              help="photo to animate with the held-out speech; repeatable (default: the held-out "
              "photos of the model's training data)")
@click.option("--audio-checkpoint", type=click.Path(path_type=Path),
              help="audio driver weights (default: models/<id>/audio.safetensors)")
@json_option
def eval_audio(model_id: str, photos: tuple[Path, ...], audio_checkpoint: Path | None,
               as_json: bool) -> None:
    """Lip sync of MODEL_ID's audio driver on the held-out speech of models/audio_clips.yaml:
    the predicted mouth state, and the mouth the face mesh measures on frames rendered from each
    photo, against the viseme target; with shuffled audio and silence as controls."""
    from mpkit.models import zoo

    model = zoo.build(model_id, zoo.default_checkpoint(model_id))
    driver = zoo.audio_driver(model, audio_checkpoint)
    rows = {"mouth state": audio.sync_figures(driver)}
    for photo in photos or audio.held_out_photos(model_id):
        rows[f"rendered {Path(photo).name}"] = audio.rendered_sync_figures(model, driver, photo)
    if as_json:
        echo_json({"host_measured": True, "rows": rows})
        return
    frames = rows["mouth state"]["frames"]
    click.echo(f"held-out lip sync, {frames:.0f} frames: correlation with the viseme target's "
               "opening (host-measured)")
    click.echo(f"{'measured on':<28} {'audio':>7} {'shuffled':>9} {'silent':>7} {'gap':>7}  "
               "opening std / target's")
    for name, f in rows.items():
        gap = f["audio"] - max(f["shuffled"], f["silent"])
        click.echo(f"{name:<28} {f['audio']:7.3f} {f['shuffled']:9.3f} {f['silent']:7.3f} "
                   f"{gap:+7.3f}  {f['audio_opening_std'] / f['target_opening_std']:.3f}")
