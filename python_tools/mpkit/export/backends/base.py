"""The Backend interface: check availability, lower one component, run it on this host."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from mpkit.errors import MpkitError
from mpkit.export.placement import OpPlacement, WarpSite
from mpkit.export.recipes import Recipe
from mpkit.models.portrait import Component

HostRunner = Callable[..., list[np.ndarray]]


class Backend:
    name: str
    runtime: str  # what the app loads: "executorch" | "litert"
    suffix: str
    warp: str  # the Warp implementation this backend's delegates accept best
    precisions: tuple[str, ...]
    host_runnable = True

    def check_available(self) -> None:
        """Raises MpkitError naming what is missing (an SDK, a variable)."""

    def check_precision(self, recipe: Recipe) -> None:
        if recipe.precision not in self.precisions:
            raise MpkitError(f"backend {self.name} does not support recipe {recipe.name} "
                             f"({recipe.precision}); it supports {', '.join(self.precisions)}")

    def lower(self, component: Component, example: tuple[torch.Tensor, ...], recipe: Recipe,
              calibration: Sequence[tuple[torch.Tensor, ...]], path: Path) -> None:
        raise NotImplementedError

    def check(self, component: Component, example: tuple[torch.Tensor, ...], recipe: Recipe,
              calibration: Sequence[tuple[torch.Tensor, ...]], workdir: Path,
              sites: list[WarpSite]) -> list[OpPlacement]:
        """Lowers the component and reports where each op will run; fills in the placement and
        suggested fix of its warp call sites."""
        raise NotImplementedError

    def host_runner(self, path: Path) -> HostRunner:
        raise MpkitError(f"{self.name} artifacts cannot run on this host (no such runtime "
                         "here); validate them on a device")
