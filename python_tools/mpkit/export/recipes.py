"""Quantization recipes and calibration sets: data in `quantization/`, validated strictly."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mpkit.configfile import load_yaml
from mpkit.datadir import data_dir
from mpkit.errors import MediaError, UnknownNameError
from mpkit.media.assets import asset_path, catalog


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Gate(_Strict):
    end_to_end_psnr_db: float = Field(description="minimum PSNR of the generated frame vs float")


class Quantize(_Strict):
    """What gets lower precision. `ops` names op kinds each backend maps to its own ops
    (conv: 2-D convolutions, linear: fully connected layers, all: every op its quantizer knows,
    the warp and the sampling grid included)."""

    weights: Literal["int8", "fp16"]
    activations: Literal["int8", "float"]
    ops: list[Literal["conv", "linear", "all"]] = Field(min_length=1)
    # Components to quantize (None: all); the others stay fp32.
    components: list[Literal["keypoints", "dense_motion", "synthesis", "multiview"]] | None = None
    keep_float: list[str] = []  # what stays float and why (for the manifest and reports)


class Auto(_Strict):
    """Per component, the first candidate recipe (cheapest first) that keeps the end-to-end
    PSNR at or above the gate; fp32 when none does."""

    candidates: list[str] = Field(min_length=1)


class Recipe(_Strict):
    name: str
    description: str
    precision: Literal["fp32", "fp16", "int8", "mixed", "auto"]
    quantize: Quantize | None = None
    auto: Auto | None = None
    gate: Gate

    def for_component(self, name: str) -> Recipe:
        """This recipe as it applies to one component (fp32 where it is not quantized)."""
        q = self.quantize
        if q is None or q.components is None or name in q.components:
            return self
        return self.model_copy(update={"precision": "fp32", "quantize": None})


class DrivingFrames(_Strict):
    video: str
    frames: int = Field(ge=1)
    start: int = Field(0, ge=0)  # frames are taken evenly from this one …
    stop: int | None = Field(None, ge=1)  # … up to, not including, this one (None: to the end)


class SpeechWindows(_Strict):
    """Video frames of a speech clip whose feature windows drive an audio component."""

    audio: str
    frames: int = Field(ge=1)  # taken evenly from the clip's frames at the features' fps


class CalibrationSet(_Strict):
    name: str
    sources: list[str]
    driving: DrivingFrames
    speech: SpeechWindows | None = None  # for bundles with an audio component

    def check(self, path: Path) -> None:
        """Every named file must be a known asset."""
        known = catalog()[1]
        speech = [self.speech.audio] if self.speech else []
        for name in [*self.sources, self.driving.video, *speech]:
            if name not in known:
                raise MediaError(f"{path}: calibration file {name!r} is not an asset "
                                 f"(see `mpkit assets list`)")
            asset_path(name)


def quantization_dir() -> Path:
    """The `quantization/` data folder (override with MPKIT_QUANTIZATION_DIR, or MPKIT_DATA_DIR
    for all)."""
    if os.environ.get("MPKIT_QUANTIZATION_DIR"):
        return Path(os.environ["MPKIT_QUANTIZATION_DIR"])
    return data_dir() / "quantization"


def recipe_names() -> list[str]:
    return sorted(p.stem for p in (quantization_dir() / "recipes").glob("*.yaml"))


def load_recipe(name: str) -> Recipe:
    path = quantization_dir() / "recipes" / f"{name}.yaml"
    if not path.is_file():
        raise UnknownNameError(f"unknown recipe {name!r}; known: {', '.join(recipe_names())}")
    return load_yaml(Recipe, path)


def load_calibration(name: str = "faces") -> CalibrationSet:
    """A set of real faces: `faces` calibrates quantization, `validation` (other faces and
    frames) checks the artifacts."""
    path = quantization_dir() / "calibration" / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in path.parent.glob("*.yaml"))
        raise UnknownNameError(f"unknown calibration set {name!r}; known: {', '.join(known)}")
    cal = load_yaml(CalibrationSet, path)
    cal.check(path)
    return cal
