"""Convolution blocks shared by the U-Nets. BatchNorm folds into the convolutions at export."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def repeat_each(x: torch.Tensor, n: int) -> torch.Tensor:
    """[B,C,H,W] → [B*n,C,H,W], each sample n times in a row. Written as a channel concat and a
    4-D reshape: `expand`/`repeat_interleave` become 5-D BROADCAST_TO in TFLite, which the GPU
    delegate does not run."""
    b, c, h, w = x.shape
    return torch.cat([x] * n, dim=1).reshape(b * n, c, h, w)


class ConvBlock(nn.Sequential):
    """3×3 conv → BN → ReLU."""

    def __init__(self, cin: int, cout: int, stride: int = 1, kernel: int = 3):
        super().__init__(
            nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class DownBlock(nn.Sequential):
    """Stride-2 conv block (4× cheaper than conv-then-pool at the same widths)."""

    def __init__(self, cin: int, cout: int):
        super().__init__(ConvBlock(cin, cout, stride=2))


class UpBlock(nn.Module):
    """2× bilinear upsampling then a conv block (bilinear lowers to delegated ops everywhere)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = ConvBlock(cin, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False))


class ResBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            ConvBlock(channels, channels),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


class Hourglass(nn.Module):
    """Encoder–decoder with skip connections (the TPSMM-style hourglass). Returns the decoder's
    feature maps from coarse to fine; the last one is at the input resolution."""

    def __init__(self, cin: int, block_expansion: int, max_features: int, num_blocks: int):
        super().__init__()
        widths = [min(max_features, block_expansion * 2 ** (i + 1)) for i in range(num_blocks)]
        self.down = nn.ModuleList(
            DownBlock(c_in, c_out) for c_in, c_out in zip([cin] + widths[:-1], widths)
        )
        ups, self.out_channels = [], []
        c = widths[-1]
        for j in reversed(range(num_blocks)):
            out = min(max_features, block_expansion * 2**j)
            ups.append(UpBlock(c, out))
            c = out + (cin if j == 0 else widths[j - 1])
            self.out_channels.append(c)
        self.up = nn.ModuleList(ups)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        skips = [x]
        for block in self.down:
            skips.append(block(skips[-1]))
        y = skips.pop()
        outs = []
        for block in self.up:
            y = torch.cat([block(y), skips.pop()], dim=1)
            outs.append(y)
        return outs
