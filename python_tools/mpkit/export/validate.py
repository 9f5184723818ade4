"""Validation of exported artifacts against the eager float model on real face frames:
every component output (SQNR) and the generated frame end to end (PSNR, SSIM)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from mpkit.errors import MediaError, MpkitError
from mpkit.export.recipes import CalibrationSet
from mpkit.media.assets import asset_path
from mpkit.media.image import read_image
from mpkit.media.video import read_frames
from mpkit.metrics.image import psnr, ssim
from mpkit.models.portrait import PortraitModel
from mpkit.landmarks.face import FaceTracker
from mpkit.pipeline.animator import Animator, even_indices

COMPONENT_ATTRS = {"keypoints": "keypoints", "dense_motion": "dense_motion",
                   "synthesis": "synthesis", "multiview": "multiview"}


@dataclass
class Reference:
    """What the eager float pipeline did on the calibration faces."""

    calls: dict[str, list[tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]]] = field(
        default_factory=lambda: {k: [] for k in COMPONENT_ATTRS})
    images: list[np.ndarray] = field(default_factory=list)


def driving_indices(cal: CalibrationSet, length: int) -> list[int]:
    """The frames of its `length`-frame driving clip that the set `cal` takes."""
    start, stop = cal.driving.start, min(cal.driving.stop or length, length)
    if start >= stop:
        raise MediaError(f"calibration set {cal.name}: {cal.driving.video} ({length} frames) "
                         f"has no frames in [{start}, {stop})")
    return [start + i for i in even_indices(stop - start, cal.driving.frames)]


def _driving_frames(cal: CalibrationSet) -> list[np.ndarray]:
    frames = list(read_frames(asset_path(cal.driving.video)))
    return [frames[i] for i in driving_indices(cal, len(frames))]


def run_pipeline(animator: Animator, cal: CalibrationSet, driving: list[np.ndarray]
                 ) -> list[np.ndarray]:
    """Every calibration source animated by the calibration driving frames."""
    images = []
    for name in cal.sources:
        avatar = animator.prepare_source(read_image(asset_path(name)), name=name)
        drive = animator.prepare_driving(avatar, driving[0], name=cal.driving.video)
        tracker = FaceTracker(animator.landmarker, cal.driving.video)
        for frame in driving:
            images.append(animator.frame(avatar, drive, frame, tracker.update(frame).points)[1])
    return images


def _own(t: torch.Tensor) -> torch.Tensor:
    """A contiguous copy: exporters specialize on strides, and views must not alias."""
    return t.detach().clone(memory_format=torch.contiguous_format)


def reference(model: PortraitModel, cal: CalibrationSet) -> Reference:
    """Runs the eager pipeline, recording every component call (inputs and outputs)."""
    ref = Reference()
    animator = Animator(model)
    for name, attr in COMPONENT_ATTRS.items():
        getattr(animator, attr).register_forward_hook(
            lambda module, args, out, name=name: ref.calls[name].append(
                (tuple(_own(a) for a in args), tuple(_own(o) for o in out))))
    ref.images = run_pipeline(animator, cal, _driving_frames(cal))
    return ref


SQNR_CAP_DB = 200.0  # bit-identical outputs


def sqnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    noise = float(((reference - test) ** 2).sum())
    signal = float((reference**2).sum())
    if noise == 0:
        return SQNR_CAP_DB
    return min(SQNR_CAP_DB, 10 * np.log10(max(signal, 1e-20) / noise))


def as_component(run: Callable[..., list[np.ndarray]]) -> Callable[..., tuple[torch.Tensor, ...]]:
    """A host runner (numpy) with a component's tensor interface."""

    def call(*inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(torch.from_numpy(np.array(o)) for o in run(*(x.numpy() for x in inputs)))

    return call


def paired(what: str, expected: Sequence, actual: Sequence) -> list[tuple]:
    """(expected, actual) pairs. A count mismatch or nothing to compare is an error: a missing
    output or frame must not read as a perfect match."""
    if len(actual) != len(expected):
        raise MpkitError(f"{what}: {len(actual)} to compare with {len(expected)} expected "
                         "(a comparison must not skip any)")
    if not expected:
        raise MpkitError(f"{what}: nothing to compare")
    return list(zip(expected, actual))


def component_figures(ref: Reference, name: str, run: Callable[..., list[np.ndarray]],
                      output_names: list[str]) -> dict[str, float]:
    """Worst-case SQNR (dB) per output of one artifact over its recorded calls."""
    if not ref.calls[name]:
        raise MpkitError(f"{name}: the eager pipeline never called it, so nothing validates it")
    worst: dict[str, float] = {}
    for inputs, outputs in ref.calls[name]:
        paired(f"{name}: outputs named by its io_spec", output_names, outputs)
        got = paired(f"{name}: outputs of the artifact", outputs,
                     list(run(*(x.numpy() for x in inputs))))
        for n, (want, actual) in zip(output_names, got):
            actual = np.asarray(actual)
            if actual.shape != tuple(want.shape):
                raise MpkitError(f"{name}: output {n} has shape {actual.shape}, the eager "
                                 f"model's has {tuple(want.shape)}")
            figure = sqnr_db(want.numpy(), actual)
            worst[n] = min(figure, worst.get(n, figure))
    return {f"{n}_sqnr_db": round(v, 2) for n, v in worst.items()}


def end_to_end(model: PortraitModel, cal: CalibrationSet, ref: Reference,
               runners: dict[str, Callable[..., tuple[torch.Tensor, ...]]]) -> dict[str, float]:
    """The whole pipeline with artifacts in place of components, against eager float."""
    images = run_pipeline(Animator(model, runners=runners), cal, _driving_frames(cal))
    pairs = paired(f"end-to-end frames on the {cal.name} faces", ref.images, images)
    psnrs = [psnr(a, b) for a, b in pairs]
    return {"frames": len(pairs), "psnr_db_min": round(min(psnrs), 2),
            "psnr_db_mean": round(float(np.mean(psnrs)), 2),
            "ssim_min": round(min(ssim(a, b) for a, b in pairs), 5)}
