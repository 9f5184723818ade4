"""Measured compute: MACs (torch's FLOP counter ÷ 2: one multiply-add = 2 FLOPs) and parameters,
per component and per stage, at the model's resolution, batch 1."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from mpkit.models.portrait import PortraitModel

MAC_CONVENTION = ("MACs = torch.utils.flop_counter FLOPs / 2 (conv, linear, matmul; "
                  "grid_sample, norms and activations not counted), batch 1")


@dataclass(frozen=True)
class ComponentStats:
    name: str
    stage: str
    gmacs: float
    params_m: float
    calls_per_source: int  # how often the source stage runs it (T views for dense_motion)


@dataclass(frozen=True)
class ModelStats:
    model_id: str
    components: list[ComponentStats]
    params_m: float

    def stage_gmacs(self, stage: str) -> float:
        if stage == "frame":
            return sum(c.gmacs for c in self.components if c.stage == "frame")
        return sum(c.gmacs * c.calls_per_source for c in self.components)


def measure(model: PortraitModel) -> ModelStats:
    model.eval()
    stats = []
    for comp in model.components().values():
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            comp(*comp.example_inputs())
        params = sum(p.numel() for p in comp.parameters())
        calls = {"keypoints": 1, "dense_motion": model.cfg.views, "multiview": 1}.get(comp.name, 0)
        stats.append(ComponentStats(comp.name, comp.stage, counter.get_total_flops() / 2e9,
                                    params / 1e6, calls))
    total = sum(p.numel() for p in model.parameters()) / 1e6
    return ModelStats(model.cfg.id, stats, total)
