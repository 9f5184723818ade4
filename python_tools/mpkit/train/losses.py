"""Training losses: reconstruction (L1 + multi-scale SSIM), keypoint equivariance, the
facial-knowledge loss, the dense-motion mask heads, and losses that see faces through pretrained
face networks (`mpkit.facenets`: perceptual, identity) plus face colour fidelity. The optional
VGG perceptual and adversarial terms are in `adversarial.py`."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from mpkit.metrics.image import ssim_map

SSIM_SCALES = (1.0, 0.5, 0.25)


def multiscale_ssim_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    losses = []
    for scale in SSIM_SCALES:
        p = pred if scale == 1 else F.interpolate(pred, scale_factor=scale, mode="area")
        t = target if scale == 1 else F.interpolate(target, scale_factor=scale, mode="area")
        losses.append(1 - ssim_map(p, t).mean())
    return torch.stack(losses).mean()


def random_affine(batch: int, generator: torch.Generator, strength: float = 0.1) -> torch.Tensor:
    """[B,2,3] small random similarity transforms (rotation, scale, shift) in [-1,1] coords."""
    r = lambda: (torch.rand(batch, generator=generator) * 2 - 1) * strength  # noqa: E731
    angle, scale, tx, ty = r() * math.pi / 2, 1 + r(), r(), r()
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    return torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)


def apply_affine(theta: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    return points @ theta[:, :, :2].transpose(1, 2) + theta[:, :, 2].unsqueeze(1)


def equivariance_loss(detector, image: torch.Tensor, kp: torch.Tensor,
                      theta: torch.Tensor) -> torch.Tensor:
    """Keypoints of a transformed image, mapped back, must land on the original keypoints.
    The transformed image samples the original at A(z) (`theta`, from `random_affine`), so its
    keypoints k' satisfy A(k') = k."""
    grid = F.affine_grid(theta, list(image.shape), align_corners=True)
    moved = F.grid_sample(image, grid, padding_mode="border", align_corners=True)
    return (apply_affine(theta, detector(moved)) - kp).abs().mean()


def facial_knowledge_loss(deformation: torch.Tensor, facial_driving: torch.Tensor,
                          facial_source: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The flow must carry each driving face-mesh point to the same point in the source:
    sampling the deformation grid at the driving points gives the source points."""
    grid = deformation.permute(0, 3, 1, 2)
    at = F.grid_sample(grid, facial_driving.unsqueeze(1), align_corners=True)  # [B,2,1,P]
    err = (at[:, :, 0].transpose(1, 2) - facial_source).abs().sum(-1)  # [B,P]
    return (err * weights).sum(-1).mean() / weights.sum()


# -- losses that see faces: pretrained face networks (mpkit.facenets) and colour statistics --
FACE_CROP_MARGIN = 0.25  # face crops add this fraction of the facial keypoints' extent per side
PERCEPTUAL_BLOCKS = (1, 3, 5, 11)  # SSD MobileNetV1 blocks: 128², 64², 32², 16² at 256²
FACERES_SIZE = 224  # HSE FaceRes's input side
# RGB → Y, Cb, Cr (BT.601): luma and chroma get their own statistics
YCBCR = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5],
                      [0.5, -0.418688, -0.081312]])


def face_crops(images: torch.Tensor, facial: torch.Tensor, size: int,
               margin: float = FACE_CROP_MARGIN) -> torch.Tensor:
    """[B,3,size,size] square crops (differentiable, bilinear) around each image's facial
    keypoints ([B,P,2] in [-1,1], align_corners=True), widened by `margin` per side."""
    lo, hi = facial.amin(1), facial.amax(1)
    half = (hi - lo).amax(1) / 2 * (1 + 2 * margin)
    theta = torch.zeros(len(images), 2, 3, dtype=images.dtype, device=images.device)
    theta[:, 0, 0] = theta[:, 1, 1] = half
    theta[:, :, 2] = (lo + hi) / 2
    grid = F.affine_grid(theta, [len(images), 3, size, size], align_corners=True)
    return F.grid_sample(images, grid, padding_mode="border", align_corners=True)


def face_perceptual_loss(ssd, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 between the features of face-api.js's SSD face-detector backbone (MobileNetV1,
    `facenets.load("ssd_mobilenetv1")`) of pred and target ([B,3,H,W] in [0,1]), mean of blocks."""
    with torch.no_grad():
        targets = ssd(target * 2 - 1, PERCEPTUAL_BLOCKS)
    preds = ssd(pred * 2 - 1, PERCEPTUAL_BLOCKS)
    return torch.stack([(p - t).abs().mean() for p, t in zip(preds, targets)]).mean()


def face_embedding(faceres, images: torch.Tensor, facial: torch.Tensor) -> torch.Tensor:
    """[B,1024] HSE FaceRes embeddings (`facenets.load("faceres")`) of the faces in `images`
    ([B,3,H,W] in [0,1]) located by their facial keypoints."""
    crops = face_crops(images, facial, FACERES_SIZE) * 255
    return faceres(crops)[0].mean((2, 3))


def identity_loss(faceres, pred: torch.Tensor, facial: torch.Tensor, reference: torch.Tensor,
                  reference_facial: torch.Tensor | None = None) -> torch.Tensor:
    """1 - cosine similarity between the FaceRes embeddings of pred's face and the reference's
    (`reference_facial` defaults to `facial`: a reference aligned with pred, e.g. the driving
    frame). FaceRes is not dlib's network, which `mpkit eval` scores identity with."""
    with torch.no_grad():
        ref = face_embedding(faceres, reference,
                             facial if reference_facial is None else reference_facial)
    return (1 - F.cosine_similarity(face_embedding(faceres, pred, facial), ref)).mean()


MOUTH_CROP = 64  # side of the mouth crop the mouth loss compares
MOUTH_CROP_MARGIN = 0.5  # of the lips' extent, per side: the chin, cheeks and teeth around them


def mouth_loss(pred: torch.Tensor, target: torch.Tensor, lips: torch.Tensor) -> torch.Tensor:
    """L1 between crops of pred and target around the target's lips ([B,L,2] in [-1,1]): the
    mouth is a few hundred of the frame's pixels, so the frame's L1 barely sees it open."""
    crop = lambda x: face_crops(x, lips, MOUTH_CROP, MOUTH_CROP_MARGIN)  # noqa: E731
    return (crop(pred) - crop(target)).abs().mean()


def face_mask(facial: torch.Tensor, size: int) -> torch.Tensor:
    """[B,1,size,size] the ellipse inscribed in the box of the facial keypoints ([-1,1])."""
    lo, hi = facial.amin(1), facial.amax(1)
    centre, radius = (lo + hi) / 2, (hi - lo).clamp_min(1e-3) / 2
    axis = torch.linspace(-1, 1, size, dtype=facial.dtype, device=facial.device)
    x = (axis[None, None, :] - centre[:, 0, None, None]) / radius[:, 0, None, None]
    y = (axis[None, :, None] - centre[:, 1, None, None]) / radius[:, 1, None, None]
    return (x**2 + y**2 <= 1).to(facial.dtype).unsqueeze(1)


def colour_statistics(images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[B,2,3] mean and standard deviation of Y, Cb, Cr inside `mask` ([B,1,H,W])."""
    ycc = torch.einsum("cd,bdhw->bchw", YCBCR.to(images), images)
    weight = mask / mask.sum((2, 3), keepdim=True).clamp_min(1)
    mean = (ycc * weight).sum((2, 3))
    var = (((ycc - mean[..., None, None]) ** 2) * weight).sum((2, 3))
    return torch.stack([mean, (var + 1e-8).sqrt()], 1)


def colour_loss(pred: torch.Tensor, facial: torch.Tensor, source: torch.Tensor,
                source_facial: torch.Tensor) -> torch.Tensor:
    """L1 between the colour statistics (YCbCr mean and spread) of pred's face and the source
    photo's, each face given by its facial keypoints: fades, tints and desaturation cost."""
    size = pred.shape[-1]
    with torch.no_grad():
        want = colour_statistics(source, face_mask(source_facial, source.shape[-1]))
    return (colour_statistics(pred, face_mask(facial, size)) - want).abs().mean()
