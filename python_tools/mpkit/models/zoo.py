"""The model registry: ids from `models/<id>/model.yaml`, built with or without a checkpoint."""

from __future__ import annotations

from pathlib import Path

import torch

from mpkit.models.checkpoint import load_weights
from mpkit.models.config import load_config, model_ids, models_dir
from mpkit.models.portrait import PortraitModel

__all__ = ["build", "model_ids", "default_checkpoint"]


def default_checkpoint(model_id: str) -> Path | None:
    """The checkpoint shipped in `models/<id>/`, if there is one."""
    path = models_dir() / model_id / "weights.safetensors"
    return path if path.is_file() else None


def build(model_id: str, checkpoint: str | Path | None = None, seed: int = 0) -> PortraitModel:
    """The model in eval mode; `trained` says whether weights were loaded."""
    cfg = load_config(model_id)
    torch.manual_seed(seed)
    model = PortraitModel(cfg)
    model.trained = False
    if checkpoint is not None:
        load_weights(model, Path(checkpoint))
        model.trained = True
    return model.eval()
