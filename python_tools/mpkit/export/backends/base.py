"""The Backend interface: check availability, lower one component, run it on this host."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mpkit.errors import MpkitError
from mpkit.export.placement import OpPlacement, WarpSite
from mpkit.export.recipes import Recipe
from mpkit.models.portrait import Component

HostRunner = Callable[..., list[np.ndarray]]


@dataclass(frozen=True)
class HostCheck:
    """One way this host validates a backend's artifacts; `label` keys its figures in the
    manifest (per component and end to end)."""

    label: str
    delegate: str
    fp32: bool = False  # GPU: compute in fp32 (else fp16 where the accelerator allows)


class Backend:
    name: str
    runtime: str  # what the app loads: "executorch" | "litert"
    suffix: str
    warp: str  # the Warp implementation this backend's delegates accept best
    precisions: tuple[str, ...]
    # The delegates this host really runs this backend's artifacts with (first = default);
    # empty when no host runtime exists for them.
    host_delegates: tuple[str, ...] = ()

    @property
    def host_runnable(self) -> bool:
        return bool(self.host_delegates)

    @property
    def host_checks(self) -> tuple[HostCheck, ...]:
        """How export validates on this host, the first delegate's check first: one per host
        delegate unless a backend runs a delegate more than one way."""
        return tuple(HostCheck(d, d) for d in self.host_delegates)

    @contextlib.contextmanager
    def check_runners(self, check: HostCheck, paths: dict[str, Path], threads: int = 2
                      ) -> Iterator[dict[str, HostRunner]]:
        """Host runners for the artifacts at `paths` (by component name), as `check` runs
        them; valid inside the `with` block."""
        yield {name: self.host_runner(path, threads, check.delegate)
               for name, path in paths.items()}

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

    def host_delegate(self, delegate: str | None) -> str:
        """The host delegate to run with (`None` = the default); refuses one this host cannot
        really run, so a figure is never labelled with a delegate that did not run."""
        if not self.host_delegates:
            raise MpkitError(f"{self.name} artifacts cannot run on this host (no such runtime "
                             "here); validate them on a device")
        if delegate is None:
            return self.host_delegates[0]
        if delegate not in self.host_delegates:
            raise MpkitError(f"backend {self.name} cannot run delegate {delegate!r} on this "
                             f"host; it supports: {', '.join(self.host_delegates)}")
        return delegate

    def host_runner(self, path: Path, threads: int = 2, delegate: str | None = None
                    ) -> HostRunner:
        """Runs the artifact at `path` here with `delegate` and `threads` worker threads."""
        self.host_delegate(delegate)
        raise NotImplementedError
