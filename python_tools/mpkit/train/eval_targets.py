"""The quality targets `mpkit eval` checks (`models/eval_targets.yaml`), case by case."""

from __future__ import annotations

import math
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from mpkit.configfile import load_yaml
from mpkit.errors import MpkitError
from mpkit.train.evaluate import IDENTITY


class Bound(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    at_least: float | None = None
    at_most: float | None = None
    at_least_over_identity_copy: float | None = None
    at_most_ratio_to_identity_copy: float | None = None

    def holds(self, value: float, copy: float) -> bool:
        """Whether `value` meets every bound (`copy`: the identity copy's figure); NaN never."""
        over, ratio = self.at_least_over_identity_copy, self.at_most_ratio_to_identity_copy
        lows = [self.at_least, None if over is None else copy + over]
        highs = [self.at_most, None if ratio is None else copy * ratio]
        return (not math.isnan(value) and all(value >= x for x in lows if x is not None)
                and all(value <= x for x in highs if x is not None))

    def describe(self, copy: float) -> str:
        """What the value must be, with the identity copy's figure filled in."""
        parts = []
        if self.at_least is not None:
            parts.append(f">= {self.at_least:g}")
        if self.at_most is not None:
            parts.append(f"<= {self.at_most:g}")
        if self.at_least_over_identity_copy is not None:
            parts.append(f">= {copy + self.at_least_over_identity_copy:.4g} (identity copy "
                         f"{copy:.4g} + {self.at_least_over_identity_copy:g})")
        if self.at_most_ratio_to_identity_copy is not None:
            parts.append(f"<= {copy * self.at_most_ratio_to_identity_copy:.4g} "
                         f"({self.at_most_ratio_to_identity_copy:g} x identity copy {copy:.4g})")
        return ", ".join(parts)


class Targets(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    self_reenactment: dict[str, Bound] = {}
    cross_reenactment: dict[str, Bound] = {}
    below_ablations: list[str] = []


def load_targets(path: Path) -> Targets:
    if not path.is_file():
        raise MpkitError(f"{path}: no such targets file; restore it from the repository "
                         "(models/eval_targets.yaml)")
    return load_yaml(Targets, path)


def check(targets: Targets, kind: str, case: str, model: str, methods: dict[str, dict]
          ) -> list[dict]:
    """One row per target for a case: the figure, what it must be, and whether it is met.
    `methods` maps method names (the model, its ablations, the identity copy) to summaries."""
    rows = []
    ours, copy = methods[model], methods[IDENTITY]
    for metric, bound in getattr(targets, kind).items():
        if metric not in ours:
            continue
        rows.append({"case": case, "figure": metric, "value": ours[metric],
                     "target": bound.describe(copy[metric]), "met": bound.holds(ours[metric], copy[metric])})
    for ablation, summary in methods.items():
        if ablation in (model, IDENTITY):
            continue
        for metric in targets.below_ablations:
            if metric in ours and metric in summary:
                value, other = ours[metric], summary[metric]
                rows.append({"case": case, "figure": metric, "value": value,
                             "target": f"< {ablation} ({other:.4g})",
                             "met": not math.isnan(value) and (math.isnan(other)
                                                                or value < other)})
    return rows
