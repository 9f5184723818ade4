"""PyTorch versions of face networks published as TensorFlow.js weights (NCHW, float32):
face-api.js's FaceRecognitionNet (dlib's ResNet-34-like 128-d face embedding) and the
MobileNetV1 of face-api.js's SSD face detector and of Human's HSE FaceRes embedding.
TensorFlow's 'same' padding (extra row/column at the bottom/right) is kept exactly."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

FACE_RECOGNITION_MEAN_RGB = (122.782, 117.001, 104.298)


def tf_same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Pads like TensorFlow's padding='same': the odd pixel goes to the bottom/right."""
    pads = []
    for size in (x.shape[-1], x.shape[-2]):
        total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


class ScaledConv(nn.Module):
    """Conv (with bias), then a per-channel scale and shift (dlib's affine layer)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, padding: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding)
        self.scale = nn.Parameter(torch.ones(cout))
        self.shift = nn.Parameter(torch.zeros(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) * self.scale[:, None, None] + self.shift[:, None, None]


class Residual(nn.Module):
    def __init__(self, cin: int, cout: int, down: bool):
        super().__init__()
        self.down = down
        self.conv1 = ScaledConv(cin, cout, 3, 2, 0) if down else ScaledConv(cin, cout, 3, 1, 1)
        self.conv2 = ScaledConv(cout, cout, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.relu(self.conv1(x)))
        if not self.down:
            return F.relu(out + x)
        # dlib's down block: a 'valid' stride-2 conv beside a 2x2 average pool; the conv's output
        # is zero-padded at the bottom/right to the pool's size, the pool's channels to the conv's.
        pooled = F.avg_pool2d(x, 2)
        out = F.pad(out, (0, pooled.shape[-1] - out.shape[-1], 0, pooled.shape[-2] - out.shape[-2]))
        pooled = F.pad(pooled, (0, 0, 0, 0, 0, out.shape[1] - pooled.shape[1]))
        return F.relu(out + pooled)


# (name, input channels, output channels, downsampling) of FaceRecognitionNet's residual blocks
RESNET_BLOCKS = (
    ("conv32_1", 32, 32, False), ("conv32_2", 32, 32, False), ("conv32_3", 32, 32, False),
    ("conv64_down", 32, 64, True), ("conv64_1", 64, 64, False), ("conv64_2", 64, 64, False),
    ("conv64_3", 64, 64, False), ("conv128_down", 64, 128, True), ("conv128_1", 128, 128, False),
    ("conv128_2", 128, 128, False), ("conv256_down", 128, 256, True),
    ("conv256_1", 256, 256, False), ("conv256_2", 256, 256, False),
    ("conv256_down_out", 256, 256, True),
)


class FaceRecognitionNet(nn.Module):
    """128-d face embedding of a 150x150 RGB face crop (values 0-255); same person under 0.6."""

    input_size = 150

    def __init__(self):
        super().__init__()
        self.conv32_down = ScaledConv(3, 32, 7, 2, 0)
        self.blocks = nn.ModuleDict({n: Residual(i, o, d) for n, i, o, d in RESNET_BLOCKS})
        self.fc = nn.Linear(256, 128, bias=False)
        self.register_buffer("mean", torch.tensor(FACE_RECOGNITION_MEAN_RGB).view(1, 3, 1, 1),
                             persistent=False)

    def forward(self, rgb255: torch.Tensor) -> torch.Tensor:
        x = (rgb255 - self.mean) / 255
        x = F.max_pool2d(F.relu(self.conv32_down(x)), 3, 2)
        for block in self.blocks.values():
            x = block(x)
        return self.fc(x.mean((2, 3)))


# stride of each of MobileNetV1's 13 depthwise-separable blocks; output channels double at each
MOBILENET_STRIDES = (1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1)
MOBILENET_CHANNELS = (64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024)


class SeparableBlock(nn.Module):
    """3x3 depthwise conv (its batch norm folded into weight and bias), 1x1 pointwise conv,
    each followed by relu6."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.stride = stride
        # stride 1: TF's 'same' is a symmetric pad of 1; stride 2 pads bottom/right in forward
        self.depthwise = nn.Conv2d(cin, cin, 3, stride, 2 - stride, groups=cin)
        self.pointwise = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self.depthwise(tf_same_pad(x, 3, 2) if self.stride == 2 else x), inplace=True)
        return F.relu6(self.pointwise(x), inplace=True)


class MobileNetV1(nn.Module):
    """MobileNetV1 (width 1). `forward` returns the outputs of the blocks in `taps` (0 is the
    stem conv, 1-13 the separable blocks) and stops after the last one asked for. Keep its
    weights channels-last (`convert.load` does)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 3, 2)
        cins = (32,) + MOBILENET_CHANNELS[:-1]
        self.blocks = nn.ModuleList(
            SeparableBlock(i, o, s) for i, o, s in zip(cins, MOBILENET_CHANNELS, MOBILENET_STRIDES))

    def forward(self, x: torch.Tensor, taps: tuple[int, ...] = (13,)) -> list[torch.Tensor]:
        x = x.contiguous(memory_format=torch.channels_last)  # several times faster on CPU
        x = F.relu6(self.stem(tf_same_pad(x, 3, 2)), inplace=True)
        out = [x] if 0 in taps else []
        for i, block in enumerate(self.blocks[:max(taps)], 1):
            x = block(x)
            if i in taps:
                out.append(x)
        return out
