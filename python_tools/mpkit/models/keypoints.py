"""Neural keypoint detector (light CNN) and the MLP that mixes neural and facial keypoints."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mpkit.models.blocks import ConvBlock
from mpkit.models.config import ModelConfig


class KeypointNet(nn.Module):
    """Image [B,3,R,R] in [0,1] → neural keypoints [B,K,2] in [-1,1] (x, y)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        kc = cfg.keypoints
        self.input_size = kc.input_size
        layers, c = [], 3
        for width in kc.channels:
            layers += [ConvBlock(c, width, stride=2), ConvBlock(width, width)]
            c = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c, cfg.num_kp * 2)
        self.num_kp = cfg.num_kp

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(image, size=(self.input_size, self.input_size), mode="bilinear",
                          align_corners=False, antialias=False)
        # kept 4-D: XNNPACK takes a spatial mean only with keepdim
        x = self.features(x).mean(dim=(2, 3), keepdim=True).flatten(1)
        return torch.tanh(self.head(x)).view(-1, self.num_kp, 2)


class KeypointMixer(nn.Module):
    """Neural [B,K,2] + facial [B,F,2] keypoints → mixed [B,K,2]: the neural points moved by an
    MLP that sees both sets (the paper merges 50 neural and 106 facial points into 50)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        k, f, h = cfg.num_kp, cfg.facial_points, cfg.keypoints.mixer_hidden
        self.mlp = nn.Sequential(
            nn.Linear(2 * (k + f), h), nn.ReLU(inplace=True),
            nn.Linear(h, h), nn.ReLU(inplace=True),
            nn.Linear(h, 2 * k),
        )
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, neural: torch.Tensor, facial: torch.Tensor) -> torch.Tensor:
        x = torch.cat([neural.flatten(1), facial.flatten(1)], dim=1)
        return neural + self.mlp(x).view_as(neural)
