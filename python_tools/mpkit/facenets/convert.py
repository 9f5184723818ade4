"""TF.js face-network weights (assets) converted once into safetensors files in mpkit's cache,
checked against the sha256 recorded here, and loaded with safetensors only."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors.numpy import save
from safetensors.torch import load_file
from torch import nn

from mpkit.errors import AssetError
from mpkit.facenets import nets
from mpkit.facenets.tfjs import read_weights
from mpkit.media.assets import asset_path, cache_dir, sha256_file
from mpkit.media.files import atomic_output

BATCH_NORM_EPSILON = 0.0010000000474974513  # face-api.js's SSD MobileNetV1 depthwise batch norm
COMMAND = "mpkit assets convert-face-nets"

Weights = dict[str, np.ndarray]


def _conv(w: np.ndarray) -> np.ndarray:
    """TF conv filters [kh, kw, in, out] (depthwise: [kh, kw, in, 1]) to PyTorch's layout."""
    return np.ascontiguousarray(w.transpose(3, 2, 0, 1) if w.shape[3] != 1 else
                                w.transpose(2, 3, 0, 1))


def _face_recognition(tf: Weights) -> Weights:
    out = {"fc.weight": np.ascontiguousarray(tf["fc"].T)}
    layers = {"conv32_down": "conv32_down"}
    for name, *_ in nets.RESNET_BLOCKS:
        layers |= {f"blocks.{name}.{c}": f"{name}/{c}" for c in ("conv1", "conv2")}
    for key, prefix in layers.items():
        out[f"{key}.conv.weight"] = _conv(tf[f"{prefix}/conv/filters"])
        out[f"{key}.conv.bias"] = tf[f"{prefix}/conv/bias"]
        out[f"{key}.scale"] = tf[f"{prefix}/scale/weights"]
        out[f"{key}.shift"] = tf[f"{prefix}/scale/biases"]
    return out


def _separable(i: int, depthwise: np.ndarray, scale: np.ndarray, shift: np.ndarray,
               pointwise: np.ndarray, bias: np.ndarray) -> Weights:
    """MobileNetV1 block `i` (1-13); the depthwise conv's per-channel scale is folded into it."""
    b = f"blocks.{i - 1}."
    return {b + "depthwise.weight": _conv(depthwise) * scale[:, None, None, None],
            b + "depthwise.bias": shift, b + "pointwise.weight": _conv(pointwise),
            b + "pointwise.bias": bias}


def _ssd_mobilenet(tf: Weights) -> Weights:
    """The MobileNetV1 backbone of face-api.js's SSD detector (the box heads are not used)."""
    p = "MobilenetV1/Conv2d_{}_{}"
    out = {"stem.weight": _conv(tf[p.format(0, "pointwise/weights")]),
           "stem.bias": tf[p.format(0, "pointwise/convolution_bn_offset")]}
    for i in range(1, 14):
        bn = {k: tf[p.format(i, f"depthwise/BatchNorm/{k}")]
              for k in ("gamma", "beta", "moving_mean", "moving_variance")}
        scale = bn["gamma"] / np.sqrt(bn["moving_variance"] + np.float32(BATCH_NORM_EPSILON))
        out |= _separable(i, tf[p.format(i, "depthwise/depthwise_weights")], scale,
                          bn["beta"] - bn["moving_mean"] * scale,
                          tf[p.format(i, "pointwise/weights")],
                          tf[p.format(i, "pointwise/convolution_bn_offset")])
    return out


def _faceres(tf: Weights) -> Weights:
    """Human's HSE FaceRes graph: a MobileNetV1 whose batch norms are folded to mul/sub consts;
    its age/gender heads are not used. Every clip constant must be relu6's (0 and 6)."""
    clips = {float(v) for k, v in tf.items() if k.endswith(("_relu/Cast", "_relu/Const_1"))}
    if clips != {0.0, 6.0}:
        raise AssetError(f"faceres: expected relu6 clip constants 0 and 6, found {sorted(clips)}")
    out = {"stem.weight": _conv(tf["conv1/convolution/merged_input"]),
           "stem.bias": tf["conv1_bn/batchnorm_1/sub"]}
    for i in range(1, 14):
        out |= _separable(i, tf[f"conv_dw_{i}/depthwise_kernel"],
                          tf[f"conv_dw_{i}_bn/batchnorm_1/mul"],
                          tf[f"conv_dw_{i}_bn/batchnorm_1/sub"],
                          tf[f"conv_pw_{i}/convolution/merged_input"],
                          tf[f"conv_pw_{i}_bn/batchnorm_1/sub"])
    return out


@dataclass(frozen=True)
class FaceNet:
    name: str
    manifest: str  # asset: a weights manifest, or a graph model's model.json
    shards: tuple[str, ...]
    convert: Callable[[Weights], Weights]
    build: Callable[[], nn.Module]
    sha256: str  # of the converted safetensors file
    source: str


FACE_NETS = {n.name: n for n in (
    FaceNet("face_recognition_net", "face_recognition_model-weights_manifest.json",
            ("face_recognition_model.bin",), _face_recognition, nets.FaceRecognitionNet,
            "bb52747a06423555923656a07269caccd1987bd6f36ea99bf175c213fcbf345d",
            "npm @vladmandic/face-api 1.7.15, face_recognition_model"),
    FaceNet("ssd_mobilenetv1", "ssd_mobilenetv1_model-weights_manifest.json",
            ("ssd_mobilenetv1_model.bin",), _ssd_mobilenet, nets.MobileNetV1,
            "62824213a15e362510bdf752edef01db2ebc045802d5058b9b6732a2da46786b",
            "npm @vladmandic/face-api 1.7.15, ssd_mobilenetv1_model"),
    FaceNet("faceres", "faceres.json", ("faceres.bin",), _faceres, nets.MobileNetV1,
            "fc64134b605f8d3b1e4146d1fae68ff376bb5b76015e5dedbac1050b777c6e3d",
            "npm @vladmandic/human 3.3.6, models/faceres (HSE FaceRes)"),
)}


def converted_path(name: str) -> Path:
    return cache_dir() / "facenets" / f"{name}.safetensors"


def convert(name: str, locate: Callable[[str], Path] = asset_path) -> Path:
    """Converts net `name` from its TF.js assets (found by `locate`) and writes it to the cache;
    the result must hash to the recorded sha256."""
    net = FACE_NETS[name]
    manifest = json.loads(locate(net.manifest).read_text())
    groups = manifest["weightsManifest"] if isinstance(manifest, dict) else manifest
    tf = read_weights(groups, [locate(s) for s in net.shards], net.manifest)
    state = {k: np.ascontiguousarray(v, np.float32) for k, v in net.convert(tf).items()}
    data = save(state, metadata={"source": net.source})
    digest = hashlib.sha256(data).hexdigest()
    if digest != net.sha256:
        raise AssetError(f"{name}: the converted weights have sha256 {digest}, expected "
                         f"{net.sha256} (different source assets, or a converter change)")
    path = converted_path(name)
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
    return path


@cache
def load(name: str) -> nn.Module:
    """Net `name` in eval mode with frozen weights, converted on first use, hash-checked."""
    if name not in FACE_NETS:
        raise AssetError(f"unknown face net {name!r}; known: {', '.join(FACE_NETS)}")
    net, path = FACE_NETS[name], converted_path(name)
    if not path.is_file():
        convert(name)
    digest = sha256_file(path)
    if digest != net.sha256:
        raise AssetError(f"{path} has sha256 {digest}, expected {net.sha256}: run `{COMMAND}`")
    model = net.build()
    model.load_state_dict(load_file(path))
    return model.to(memory_format=torch.channels_last).eval().requires_grad_(False)
