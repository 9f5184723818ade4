"""Checkpoints: safetensors only, atomic writes, and errors that name the offending tensor."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from mpkit.errors import CheckpointError
from mpkit.media.files import atomic_output


def save_weights(model: torch.nn.Module, path: Path, metadata: dict | None = None) -> None:
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    meta = {"model_id": model.cfg.id, **{k: json.dumps(v) for k, v in (metadata or {}).items()}}
    with atomic_output(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)


def read_metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})


def load_weights(model: torch.nn.Module, path: Path) -> None:
    if path.suffix != ".safetensors":
        raise CheckpointError(f"{path}: only .safetensors checkpoints are loaded")
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    try:
        tensors = load_file(str(path))
        meta = read_metadata(path)
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from e
    if meta.get("model_id") not in (None, model.cfg.id):
        raise CheckpointError(f"{path}: checkpoint is for model {meta['model_id']}, "
                              f"not {model.cfg.id}")
    expected = model.state_dict()
    for name, tensor in tensors.items():
        if name not in expected:
            raise CheckpointError(f"{path}: unexpected tensor {name} (not in {model.cfg.id})")
        if tensor.shape != expected[name].shape:
            raise CheckpointError(f"{path}: tensor {name} has shape {tuple(tensor.shape)}, "
                                  f"{model.cfg.id} expects {tuple(expected[name].shape)}")
    missing = sorted(set(expected) - set(tensors))
    if missing:
        raise CheckpointError(f"{path}: missing {len(missing)} tensors, e.g. {missing[0]}")
    model.load_state_dict(tensors)
