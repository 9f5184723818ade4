"""The `gather` warp on LiteRT's real GPU accelerator (software Vulkan device): converted alone
at every call site mp-tiny makes, it is fully accelerated and computes eager grid_sample's
picture of a real frame."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch

from mpkit.gpu import accelerator
from mpkit.models.config import WarpConfig
from mpkit.models.warp import Warp


@pytest.fixture(scope="module")
def call_sites():
    """component → (image shape, grid shape, warp config) of each warp call mp-tiny makes."""
    from mpkit.export.check import warp_sites
    from mpkit.models import zoo

    model = zoo.build("mp-tiny", zoo.default_checkpoint("mp-tiny"))
    sites = {}
    for name, component in model.components().items():
        example = component.example_inputs(torch.Generator().manual_seed(0))
        for site in warp_sites(model, component, example):
            sites[name] = (site.image_shape, site.grid_shape,
                           WarpConfig(padding_mode=site.padding_mode,
                                      align_corners=site.align_corners))
    return sites


def _frame_and_grid(asset, image_shape, grid_shape):
    """A carphone frame at the site's size and smooth grids reaching a little past the border."""
    import cv2

    from mpkit.media.video import read_frames

    _, _, h, w = image_shape
    n, gh, gw, _ = grid_shape
    frame = cv2.resize(np.asarray(next(read_frames(asset("carphone.mp4"), limit=1))), (w, h))
    image = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255
    ys, xs = torch.meshgrid(torch.linspace(-1.1, 1.1, gh), torch.linspace(-1.1, 1.1, gw),
                            indexing="ij")
    noise = torch.randn(n, 2, 8, 8, generator=torch.Generator().manual_seed(0)) * 0.1
    smooth = torch.nn.functional.interpolate(noise, size=(gh, gw), mode="bicubic")
    return image, torch.stack([xs, ys], -1) + smooth.permute(0, 2, 3, 1)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1 / mse)


@pytest.mark.slow
@pytest.mark.parametrize("component, padding, align_corners", [
    ("dense_motion", None, None), ("synthesis", None, None), ("multiview", None, None),
    ("dense_motion", "zeros", False),  # the other branch of the index math
])
def test_gather_warp_runs_fully_on_the_gpu_and_matches_eager(
        call_sites, asset, tmp_path, component, padding, align_corners):
    import litert_torch

    image_shape, grid_shape, cfg = call_sites[component]
    if padding is not None:
        cfg = WarpConfig(padding_mode=padding, align_corners=align_corners)
    image, grid = _frame_and_grid(asset, image_shape, grid_shape)
    path = tmp_path / f"{component}-warp.tflite"
    with contextlib.redirect_stdout(io.StringIO()):  # the converter's progress
        litert_torch.convert(Warp(cfg, "gather").eval(), (image, grid)).export(str(path))
    assert "GATHER" in accelerator.op_names(path)

    verdict = accelerator.place(path)
    assert verdict.crash is None, f"{verdict.crash} at {verdict.crash_op}"
    assert verdict.fully_accelerated, verdict.rejected
    assert verdict.gpu_ops == verdict.ops and not verdict.rejected

    reference = torch.nn.functional.grid_sample(
        image.repeat_interleave(grid.shape[0] // image.shape[0], dim=0), grid,
        padding_mode=cfg.padding_mode, align_corners=cfg.align_corners).numpy()
    for fp32 in (False, True):  # the phones' default precision, then fp32
        out, = accelerator.run(path, [image.numpy(), grid.numpy()], "gpu", fp32=fp32)
        assert out.shape == reference.shape
        assert _psnr(out, reference) >= 60, f"fp32={fp32}"
