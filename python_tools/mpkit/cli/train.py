from __future__ import annotations

import sys
from pathlib import Path

import click
from tqdm import tqdm

from mpkit.models.config import load_config, models_dir
from mpkit.train.config import load_train_config
from mpkit.train.loop import train as run_training


@click.command("train")
@click.argument("model_id")
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="training YAML (default: models/<id>/train.yaml)")
@click.option("--run-dir", type=click.Path(path_type=Path),
              help="checkpoints, metrics.jsonl, losses.png (default: out/runs/<id>)")
@click.option("--fresh", is_flag=True, help="start over instead of resuming the run folder")
def train(model_id: str, config_path: Path | None, run_dir: Path | None, fresh: bool) -> None:
    """Train MODEL_ID on real talking-head frames; resumes where the run folder left off."""
    load_config(model_id)
    cfg = load_train_config(config_path or models_dir() / model_id / "train.yaml")
    if cfg.model != model_id:
        raise click.UsageError(f"the config trains {cfg.model}, not {model_id}")
    bar = tqdm(total=cfg.steps, desc="train", unit="step", file=sys.stderr)

    def progress(metrics: dict) -> None:
        bar.n = metrics["step"]
        bar.set_postfix(loss=f"{metrics['total']:.3f}", l1=f"{metrics['l1']:.3f}")

    result = run_training(cfg, run_dir or Path("out/runs") / model_id, resume=not fresh,
                          progress=progress)
    bar.close()
    click.echo(f"{result.run_dir}: step {result.step}, {result.seconds:.0f} s this session, "
               f"last loss {result.last.get('total', float('nan')):.4f}")


COMMANDS = [train]
