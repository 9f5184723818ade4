"""The model graphs as LiteRT's real GPU accelerator takes them (issue 13, item 5), and the same
picture as a straightforward torch formulation of the model on real frames."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mpkit.export.backends.tflite import TfliteBackend
from mpkit.export.recipes import load_recipe
from mpkit.models import zoo
from mpkit.models.dense_motion import RESIDUAL_SCALE
from mpkit.models.tps import REGULARIZATION, PivotedSolver, ThinPlateSpline



def _convert(model_id: str, component: str, warp: str, path: Path) -> Path:
    model = zoo.build(model_id, zoo.default_checkpoint(model_id))
    model.warp.impl = warp
    comp = model.components()[component]
    example = comp.example_inputs(torch.Generator().manual_seed(0))
    TfliteBackend().lower(comp, example, load_recipe("fp32"), [], path)
    return path


def _xnnpack_leftovers(component) -> list[tuple[str, bool]]:
    """(op, inside the warp) for every op XNNPACK did not take."""
    from mpkit.export.backends.executorch import XnnpackBackend

    example = component.example_inputs(torch.Generator().manual_seed(0))
    edge = XnnpackBackend().edge_program(component, example, load_recipe("fp32"), [])
    return [(str(node.target), any("warp.Warp" in str(v) for v in
                                   (node.meta.get("nn_module_stack") or {}).values()))
            for node in edge.exported_program().graph_module.graph.nodes
            if node.op == "call_function" and "getitem" not in str(node.target)
            and "executorch_call_delegate" not in str(node.target)]


@pytest.mark.slow
@pytest.mark.parametrize("model_id", ["mp-tiny", "mp-16g"])
@pytest.mark.parametrize("component", ["dense_motion", "synthesis", "multiview"])
def test_every_component_is_fully_accelerated_with_the_tflite_warp(model_id, component,
                                                                    tmp_path):
    """One GPU partition, no op on the CPU, with the warp TFLite bundles really use."""
    from mpkit.gpu import accelerator

    path = _convert(model_id, component, TfliteBackend.warp, tmp_path / f"{component}.tflite")
    verdict = accelerator.place(path, component, bisect=False)
    assert verdict.fully_accelerated and verdict.cpu_ops == 0, verdict


@pytest.mark.slow
def test_keypoints_fully_accelerated_every_size(tmp_path):
    """Random weights are enough: placement depends on the shapes, not on the values."""
    from mpkit.gpu import accelerator

    for model_id in ("mp-tiny", "mp-16g"):
        path = _convert(model_id, "keypoints", TfliteBackend.warp, tmp_path / f"{model_id}.tflite")
        assert accelerator.place(path, model_id, bisect=False).fully_accelerated, model_id


@pytest.mark.slow
def test_xnnpack_takes_the_frame_stage_but_the_warp():
    """XNNPACK has no grid sampler: the warp's ops are the only ones left on portable kernels."""
    model = zoo.build("mp-tiny")
    parts = model.components()
    left = {name: _xnnpack_leftovers(parts[name])
            for name in ("keypoints", "dense_motion", "synthesis")}
    assert {name: [op for op, in_warp in ops if not in_warp] for name, ops in left.items()} == {
        "keypoints": [], "dense_motion": [], "synthesis": []}
    assert sum(len(ops) for ops in left.values()) <= 5


# --- the same picture: the new graph against a straightforward torch formulation -----------


def _reference_dense_motion(net, source_small, source_masks, kp_source, kp_driving):
    """DenseMotion.forward as written without any export constraint: LAPACK solve in float64,
    5-D broadcasts, matmuls, grid_sample, softmax over channels."""
    b, k, p, s = kp_source.shape[0], net.tps.num_tps, net.tps.points, net.size
    d, src = kp_driving.double().view(b, k, p, 2), kp_source.double().view(b, k, p, 2)

    def u(sq):
        return sq * torch.log(sq + 1e-9)

    affine = torch.cat([d, torch.ones(b, k, p, 1, dtype=torch.float64)], -1)
    lhs = torch.cat([torch.cat([u(((d.unsqueeze(3) - d.unsqueeze(2)) ** 2).sum(-1)), affine], -1),
                     torch.cat([affine.transpose(-1, -2),
                                torch.zeros(b, k, 3, 3, dtype=torch.float64)], -1)], -2)
    lhs = lhs + torch.eye(p + 3, dtype=torch.float64) * REGULARIZATION
    rhs = torch.cat([src, torch.zeros(b, k, 3, 2, dtype=torch.float64)], -2)
    params = torch.linalg.solve(lhs, rhs)
    axis = torch.linspace(-1, 1, s, dtype=torch.float64)
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    z = torch.stack([x, y], -1).view(1, 1, -1, 1, 2)
    radial = u(((z - d.unsqueeze(2)) ** 2).sum(-1))  # [b,k,N,p]
    z_h = torch.cat([z.view(-1, 2), torch.ones(s * s, 1, dtype=torch.float64)], -1)
    moved = radial @ params[:, :, :p] + z_h @ params[:, :, p:]
    grids = torch.cat([moved, z.view(1, 1, -1, 2).expand(b, 1, -1, 2)], 1)
    grids = grids.view(b, k + 1, s, s, 2).float()
    cfg = net.warp
    deformed = F.grid_sample(source_small.repeat_interleave(k + 1, 0), grids.view(-1, s, s, 2),
                             padding_mode=cfg.padding_mode, align_corners=cfg.align_corners)
    zf = z.view(1, 1, -1, 2).float()
    heat = [torch.exp(-0.5 * ((zf - kp.unsqueeze(2)) ** 2).sum(-1) / net.variance)
            for kp in (kp_driving, kp_source)]
    heat = (heat[0] - heat[1]).view(b, -1, s, s)
    levels = net.hourglass(torch.cat([deformed.view(b, -1, s, s), heat, source_masks], 1))
    final = levels[-1]
    contribution = torch.softmax(net.contribution(final), dim=1)
    flow = (contribution.unsqueeze(-1) * grids).sum(1)
    deformation = flow + torch.tanh(net.residual(final)).permute(0, 2, 3, 1) * RESIDUAL_SCALE
    occlusions, x, r = [], net.refine[0](final), 1
    for level, head in zip(net.levels, net.occlusion):
        if level is None:
            x, r = net.refine[r](x), r + 1
        occlusions.append(torch.sigmoid(head(x if level is None else levels[level])))
    return deformation, *occlusions


def _psnr(a: torch.Tensor, b: torch.Tensor, peak: float) -> float:
    mse = float(((a - b) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(peak**2 / mse)


@pytest.fixture(scope="module")
def carphone_motion(asset):
    """dense_motion's inputs from the eager pipeline on carphone with the shipped mp-tiny."""
    from mpkit.landmarks.face import FaceTracker
    from mpkit.media.video import read_frames
    from mpkit.pipeline.animator import Animator

    frames = [np.asarray(f) for f in read_frames(asset("carphone.mp4"), limit=30)]
    model = zoo.build("mp-tiny", zoo.default_checkpoint("mp-tiny"))
    calls = []
    dense_motion = model.components()["dense_motion"]

    def record(*inputs):
        calls.append(inputs)
        return dense_motion(*inputs)

    animator = Animator(model, runners={"dense_motion": record})
    avatar = animator.prepare_source(frames[0])
    driving = animator.prepare_driving(avatar, frames[0])
    tracker = FaceTracker(animator.landmarker, "carphone")
    for frame in frames[1::5]:
        animator.frame(avatar, driving, frame, tracker.update(frame).points)
    return model, calls


@pytest.mark.slow
def test_dense_motion_matches_a_straightforward_formulation_on_real_frames(carphone_motion):
    model, calls = carphone_motion
    assert len(calls) >= 8
    with torch.no_grad():
        for inputs in calls:
            new = model.dense_motion(*inputs)
            reference = _reference_dense_motion(model.dense_motion, *inputs)
            assert _psnr(new[0], reference[0], 2.0) >= 60  # grids span [-1, 1]
            for a, b in zip(new[1:], reference[1:]):
                assert _psnr(a, b, 1.0) >= 60


def test_solver_matches_linalg_and_breaks_ties_as_argmax():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(3, 4, 8, 8, generator=g), torch.randn(3, 4, 8, 2, generator=g)
    torch.testing.assert_close(PivotedSolver(8)(a, b),
                               torch.linalg.solve(a.double(), b.double()).float(),
                               rtol=1e-3, atol=1e-4)
    # equal magnitudes in the pivot column: the first is taken, the solution is still right
    tied = torch.tensor([[1.0, 2.0, 0.0], [-1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    rhs = torch.tensor([[1.0], [2.0], [3.0]])
    torch.testing.assert_close(PivotedSolver(3)(tied, rhs), torch.linalg.solve(tied, rhs))


def test_tps_planes_match_matmul_formulation():
    tps = ThinPlateSpline(10, 5, 16)
    g = torch.Generator().manual_seed(1)
    kp = torch.rand(2, 50, 2, generator=g) * 1.6 - 0.8
    params = torch.randn(2, 10, 8, 2, generator=g)
    x, y = tps.planes(params, kp)
    axis = torch.linspace(-1, 1, 16)
    gy, gx = torch.meshgrid(axis, axis, indexing="ij")
    z = torch.stack([gx, gy], -1).view(1, 1, -1, 1, 2)
    sq = ((z - kp.view(2, 10, 1, 5, 2)) ** 2).sum(-1)
    moved = (sq * torch.log(sq + 1e-9)) @ params[:, :, :5] + torch.cat(
        [z.view(-1, 2), torch.ones(256, 1)], -1) @ params[:, :, 5:]
    torch.testing.assert_close(torch.stack([x, y], -1)[:, :10].reshape(2, 10, -1, 2), moved,
                               rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(x[:, 10], gx.expand(2, -1, -1))
