"""The model registry: ids from `models/<id>/model.yaml`, built with or without a checkpoint."""

from __future__ import annotations

from pathlib import Path

import torch

from mpkit.errors import MpkitError
from mpkit.models.checkpoint import load_weights
from mpkit.models.config import load_config, model_ids, models_dir
from mpkit.models.portrait import PortraitModel
from mpkit.pipeline import pose_bank as bank

__all__ = ["build", "model_ids", "default_checkpoint", "pose_bank", "audio_driver"]


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


def pose_bank(model_id: str) -> bank.PoseBank:
    """The pseudo-multiview pose bank shipped in `models/<id>/` (the same for any checkpoint)."""
    cfg = load_config(model_id)
    path = models_dir() / model_id / bank.BANK_FILE
    if not path.is_file():
        raise MpkitError(f"model {model_id} has no pose bank ({path}): measure one from its "
                         "training clips with mpkit.pipeline.pose_bank.measure_for_model("
                         f"{model_id!r}, [(video, start, stop), ...])")
    return bank.load(path, cfg.views)


def default_audio_checkpoint(model_id: str) -> Path:
    """Where `model_id`'s shipped audio driver lives (whether or not it exists)."""
    return models_dir() / model_id / "audio.safetensors"


def audio_driver(model: PortraitModel, checkpoint: str | Path | None = None):
    """`model`'s audio driver (network + mouth basis) from `checkpoint`, by default the one
    shipped as `models/<id>/audio.safetensors`."""
    from mpkit.audio.features import load_spec
    from mpkit.models.audio import AudioDriver, load_net_config

    model_id = model.cfg.id
    path = Path(checkpoint) if checkpoint is not None else default_audio_checkpoint(model_id)
    if not path.is_file():
        fix = (f"train one with `mpkit train-audio {model_id}`" if model.cfg.keypoints.use_facial
               else "it uses neural keypoints only, and audio drives the mouth through facial "
               "keypoints: use a mixed-keypoint model such as mp-tiny")
        raise MpkitError(f"model {model_id} has no audio driver ({path}): {fix}")
    driver = AudioDriver(model.cfg, load_net_config(), load_spec())
    load_weights(driver, path)
    return driver.eval()
