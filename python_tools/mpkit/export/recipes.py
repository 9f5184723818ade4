"""Quantization recipes and calibration sets: data in `quantization/`, validated strictly."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from mpkit.configfile import load_yaml
from mpkit.errors import MediaError, UnknownNameError
from mpkit.media.assets import asset_path, catalog


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Gate(_Strict):
    end_to_end_psnr_db: float = Field(description="minimum PSNR of the generated frame vs float")


class Recipe(_Strict):
    name: str
    description: str
    precision: str = Field(pattern="^(fp32|fp16|int8|mixed)$")
    gate: Gate


class DrivingFrames(_Strict):
    video: str
    frames: int = Field(ge=1)


class CalibrationSet(_Strict):
    name: str
    sources: list[str]
    driving: DrivingFrames

    def check(self, path: Path) -> None:
        """Every named file must be a known asset."""
        known = catalog()[1]
        for name in [*self.sources, self.driving.video]:
            if name not in known:
                raise MediaError(f"{path}: calibration file {name!r} is not an asset "
                                 f"(see `mpkit assets list`)")
            asset_path(name)


def quantization_dir() -> Path:
    if os.environ.get("MPKIT_QUANTIZATION_DIR"):
        return Path(os.environ["MPKIT_QUANTIZATION_DIR"])
    return Path(__file__).resolve().parents[3] / "quantization"


def recipe_names() -> list[str]:
    return sorted(p.stem for p in (quantization_dir() / "recipes").glob("*.yaml"))


def load_recipe(name: str) -> Recipe:
    path = quantization_dir() / "recipes" / f"{name}.yaml"
    if not path.is_file():
        raise UnknownNameError(f"unknown recipe {name!r}; known: {', '.join(recipe_names())}")
    return load_yaml(Recipe, path)


def load_calibration(name: str = "faces") -> CalibrationSet:
    path = quantization_dir() / "calibration" / f"{name}.yaml"
    if not path.is_file():
        raise UnknownNameError(f"unknown calibration set {name!r}")
    cal = load_yaml(CalibrationSet, path)
    cal.check(path)
    return cal
