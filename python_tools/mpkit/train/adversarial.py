"""Optional training terms: a VGG-19 perceptual loss (only with weights the user supplies:
ImageNet weights cannot be fetched here) and a multi-scale patch discriminator with feature
matching (LSGAN), as in FOMM/TPSMM's training."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from mpkit.errors import CheckpointError

# torchvision's vgg19().features layout: channels per conv, "M" = max-pool.
VGG19 = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
         512, 512, 512, 512)
VGG_TAPS = (3, 8, 17, 26, 35)  # relu1_2, relu2_2, relu3_4, relu4_4, relu5_4 (features indices)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Vgg19Features(nn.Module):
    """torchvision's VGG-19 `features` (same module indices, so its state dict loads as is)."""

    def __init__(self):
        super().__init__()
        layers, cin = [], 3
        for v in VGG19:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU()]
                cin = v
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x, taps = (x - self.mean) / self.std, []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in VGG_TAPS:
                taps.append(x)
        return taps


def load_vgg19(path: Path) -> Vgg19Features:
    """VGG-19 features from a safetensors file with torchvision's keys (features.N.weight/bias)."""
    from safetensors.torch import load_file

    if not path.is_file():
        raise CheckpointError(
            f"{path}: no such perceptual-loss weights file. Supply torchvision's VGG-19 "
            "ImageNet weights as safetensors (keys features.N.weight/bias), e.g. "
            "save_file({k: v for k, v in vgg19(weights='DEFAULT').state_dict().items() "
            "if k.startswith('features.')}, 'vgg19.safetensors') on a machine that has them")
    net = Vgg19Features()
    tensors = load_file(str(path))
    expected = {k for k in net.state_dict() if k.startswith("features.")}
    missing, extra = expected - set(tensors), {k for k in tensors if k.startswith("features.")} - expected
    if missing or extra:
        raise CheckpointError(f"{path}: not VGG-19 features weights (missing "
                              f"{sorted(missing)[:3]}, unexpected {sorted(extra)[:3]})")
    for key in expected:
        if tensors[key].shape != net.state_dict()[key].shape:
            raise CheckpointError(f"{path}: {key} has shape {tuple(tensors[key].shape)}, "
                                  f"VGG-19 needs {tuple(net.state_dict()[key].shape)}")
    net.load_state_dict({k: tensors[k] for k in expected}, strict=False)
    return net.eval().requires_grad_(False)


def perceptual_loss(vgg: Vgg19Features, pred: torch.Tensor, target: torch.Tensor,
                    scales=(1.0, 0.5, 0.25, 0.125)) -> torch.Tensor:
    """FOMM's pyramid perceptual loss: L1 between VGG features at several image scales."""
    total = pred.new_zeros(())
    for s in scales:
        p = pred if s == 1 else F.interpolate(pred, scale_factor=s, mode="area")
        t = target if s == 1 else F.interpolate(target, scale_factor=s, mode="area")
        for fp, ft in zip(vgg(p), vgg(t.detach())):
            total = total + (fp - ft.detach()).abs().mean()
    return total / len(scales)


class PatchDiscriminator(nn.Module):
    """Patch discriminator at two scales; returns per-scale (feature maps, patch scores)."""

    def __init__(self, width: int = 32, depth: int = 4, scales=(1.0, 0.5)):
        super().__init__()
        self.scales = scales
        self.nets = nn.ModuleList()
        for _ in scales:
            layers, cin = [], 3
            for i in range(depth):
                cout = width * 2 ** i
                layers.append(nn.Sequential(
                    nn.utils.parametrizations.spectral_norm(nn.Conv2d(cin, cout, 4, 2, 1)),
                    nn.LeakyReLU(0.2)))
                cin = cout
            layers.append(nn.Conv2d(cin, 1, 1))
            self.nets.append(nn.ModuleList(layers))

    def forward(self, x: torch.Tensor) -> list[tuple[list[torch.Tensor], torch.Tensor]]:
        out = []
        for s, net in zip(self.scales, self.nets):
            h = x if s == 1 else F.interpolate(x, scale_factor=s, mode="area")
            feats = []
            for layer in net[:-1]:
                h = layer(h)
                feats.append(h)
            out.append((feats, net[-1](h)))
        return out


def generator_terms(disc: PatchDiscriminator, pred: torch.Tensor, real: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """(LSGAN generator loss, feature-matching L1) for the generated frames."""
    fake_out, real_out = disc(pred), disc(real)
    adv = sum(((1 - score) ** 2).mean() for _, score in fake_out) / len(fake_out)
    fm = sum((f - r.detach()).abs().mean()
             for (ff, _), (rf, _) in zip(fake_out, real_out) for f, r in zip(ff, rf))
    return adv, fm / sum(len(ff) for ff, _ in fake_out)


def discriminator_loss(disc: PatchDiscriminator, pred: torch.Tensor, real: torch.Tensor
                       ) -> torch.Tensor:
    fake_out, real_out = disc(pred.detach()), disc(real)
    return sum(((1 - r) ** 2).mean() + (f ** 2).mean()
               for (_, f), (_, r) in zip(fake_out, real_out)) / len(fake_out)
