"""Dense-motion U-Net: TPS transforms + heatmaps + deformed sources + source masks → dense flow,
multi-resolution occlusion masks, a residual flow, and two training-only mask heads."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mpkit.models.blocks import ConvBlock, Hourglass, UpBlock
from mpkit.models.config import ModelConfig
from mpkit.models.tps import ThinPlateSpline, heatmaps
from mpkit.models.warp import Warp

SOURCE_MASKS = 2  # foreground, facial-keypoint mask
RESIDUAL_SCALE = 0.1  # residual flow in normalized units (0.1 ≈ 13 px at 256)
REFINE_WIDTH = 16  # channels of the up-block chain that feeds the finer occlusion masks


class DenseMotion(nn.Module):
    def __init__(self, cfg: ModelConfig, warp: Warp):
        super().__init__()
        dm = cfg.dense_motion
        self.size, self.variance, self.num_kp = dm.size, dm.kp_variance, cfg.num_kp
        self.tps = ThinPlateSpline(cfg.num_tps, cfg.points_per_tps, dm.size)
        self.warp = warp
        groups = cfg.num_tps + 1
        self.register_buffer("sum_groups", torch.ones(1, groups, 1, 1), persistent=False)
        cin = groups * 3 + cfg.num_kp + SOURCE_MASKS
        self.hourglass = Hourglass(cin, dm.block_expansion, dm.max_features, dm.num_blocks)
        final = self.hourglass.out_channels[-1]
        self.contribution = nn.Conv2d(final, groups, 7, padding=3)
        self.residual = nn.Conv2d(final, 2, 7, padding=3)
        nn.init.zeros_(self.residual.weight)
        nn.init.zeros_(self.residual.bias)
        # Occlusion heads: coarser ones from decoder levels, finer ones through extra up-blocks.
        # level[i]: the decoder level occlusion mask i is read from, or None for the up-block chain.
        levels = len(self.hourglass.out_channels)
        self.levels = [levels - (dm.size // size).bit_length() if size <= dm.size else None
                       for size in dm.occlusion_sizes]
        self.occlusion = nn.ModuleList()
        self.refine = nn.ModuleList([nn.Conv2d(final, REFINE_WIDTH, 1)])
        for level in self.levels:
            if level is None:
                self.refine.append(UpBlock(REFINE_WIDTH, REFINE_WIDTH))
            width = REFINE_WIDTH if level is None else self.hourglass.out_channels[level]
            self.occlusion.append(nn.Conv2d(width, 1, 7, padding=3))
        self.aux = nn.Sequential(ConvBlock(final, 32), nn.Conv2d(32, 2, 1))

    def features(self, source_small, source_masks, kp_source, kp_driving):
        params = self.tps.solve(kp_source, kp_driving)
        grid_x, grid_y = self.tps.planes(params, kp_driving)  # [B,G,s,s] each
        b, g = grid_x.shape[:2]
        s = self.size
        grids = torch.cat([grid_x.reshape(b * g, s, s, 1), grid_y.reshape(b * g, s, s, 1)], -1)
        deformed = self.warp(source_small, grids).reshape(b, g * 3, s, s)
        tx, ty = self.tps.grid_x, self.tps.grid_y
        heat = (heatmaps(kp_driving, tx, ty, self.variance)
                - heatmaps(kp_source, tx, ty, self.variance))
        levels = self.hourglass(torch.cat([deformed, heat, source_masks], dim=1))
        final = levels[-1]
        contribution = self._softmax_over_g(self.contribution(final))  # [B,G,s,s]
        flow = torch.cat([F.conv2d(contribution * grid_x, self.sum_groups),
                          F.conv2d(contribution * grid_y, self.sum_groups)], dim=1)
        residual = torch.tanh(self.residual(final)) * RESIDUAL_SCALE
        deformation = (flow + residual).permute(0, 2, 3, 1)  # [B,s,s,2]
        occlusions, x, r = [], self.refine[0](final), 1
        for level, head in zip(self.levels, self.occlusion):
            if level is not None:
                occlusions.append(torch.sigmoid(head(levels[level])))
            else:
                x = self.refine[r](x)
                r += 1
                occlusions.append(torch.sigmoid(head(x)))
        return deformation, occlusions, final

    def _softmax_over_g(self, logits: torch.Tensor) -> torch.Tensor:
        """Softmax over the channel axis from elementwise ops, a running maximum over the G
        channels and the sum as a 1×1 convolution by constant ones: XNNPACK delegates softmax
        only over the last axis, and ExecuTorch's XNNPACK delegate computes a permute-softmax-
        permute after a convolution wrong (0.3 dB SQNR)."""
        peak = logits[:, :1]
        for g in range(1, logits.shape[1]):
            peak = torch.maximum(peak, logits[:, g : g + 1])
        e = torch.exp(logits - peak)
        return e / F.conv2d(e, self.sum_groups)

    def forward(self, source_small, source_masks, kp_source, kp_driving):
        """→ (deformation [B,s,s,2], occlusion masks low→high res...)."""
        deformation, occlusions, _ = self.features(source_small, source_masks, kp_source,
                                                   kp_driving)
        return (deformation, *occlusions)

    def forward_train(self, source_small, source_masks, kp_source, kp_driving):
        """As forward, plus the training-only heads: the driving frame's foreground and
        landmark masks [B,2,s,s]."""
        deformation, occlusions, final = self.features(source_small, source_masks, kp_source,
                                                       kp_driving)
        return deformation, occlusions, torch.sigmoid(self.aux(final))


def downsample(image: torch.Tensor, size: int) -> torch.Tensor:
    return F.interpolate(image, size=(size, size), mode="bilinear", align_corners=False,
                         antialias=True)
