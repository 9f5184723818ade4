"""Validation of exported artifacts against the eager float model on real face frames:
every component output (SQNR) and the generated frame end to end (PSNR, SSIM), driven by
video and, for bundles with an audio component, by speech."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from mpkit.audio.decode import read_audio
from mpkit.audio.features import frame_windows
from mpkit.errors import MediaError, MpkitError
from mpkit.export.recipes import CalibrationSet
from mpkit.media.assets import asset_path
from mpkit.media.image import read_image
from mpkit.media.video import read_frames
from mpkit.metrics.image import psnr, ssim
from mpkit.models.audio import AudioComponent, AudioDriver
from mpkit.models.portrait import PortraitModel
from mpkit.landmarks.face import FaceTracker
from mpkit.pipeline.animator import Animator, even_indices
from mpkit.pipeline.speech import speak

SPEECH_FPS = 25.0

COMPONENT_ATTRS = {"keypoints": "keypoints", "dense_motion": "dense_motion",
                   "synthesis": "synthesis", "multiview": "multiview"}


@dataclass
class Reference:
    """What the eager float pipeline did on the calibration faces."""

    calls: dict[str, list[tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]]] = field(
        default_factory=lambda: {k: [] for k in [*COMPONENT_ATTRS, AudioComponent.name]})
    images: list[np.ndarray] = field(default_factory=list)
    # With an audio component: the speech windows that drove it and the frames they made.
    speech_windows: torch.Tensor | None = None
    speech_images: list[np.ndarray] = field(default_factory=list)


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


def speech_windows(cal: CalibrationSet, driver: AudioDriver) -> torch.Tensor:
    """[frames, mels, context]: the feature windows of the set's speech frames."""
    if cal.speech is None:
        raise MpkitError(f"calibration set {cal.name} has no speech clip, so nothing can "
                         "calibrate or validate an audio component: add `speech:` to its YAML")
    path = asset_path(cal.speech.audio)
    windows = frame_windows(driver.spec, read_audio(path, driver.spec.sample_rate).samples,
                            SPEECH_FPS, name=str(path))
    return torch.from_numpy(windows[even_indices(len(windows), cal.speech.frames)])


def run_speech(animator: Animator, cal: CalibrationSet, audio: Callable,
               windows: torch.Tensor) -> list[np.ndarray]:
    """Every calibration source animated by the speech windows through `audio`."""
    images = []
    for name in cal.sources:
        avatar = animator.prepare_source(read_image(asset_path(name)), name=name)
        images.extend(speak(animator, avatar, audio, w)[0] for w in windows)
    return images


def _own(t: torch.Tensor) -> torch.Tensor:
    """A contiguous copy: exporters specialize on strides, and views must not alias."""
    return t.detach().clone(memory_format=torch.contiguous_format)


def _record(module: torch.nn.Module, calls: list) -> None:
    module.register_forward_hook(lambda m, args, out: calls.append(
        (tuple(_own(a) for a in args), tuple(_own(o) for o in out))))


def reference(model: PortraitModel, cal: CalibrationSet,
              driver: AudioDriver | None = None) -> Reference:
    """Runs the eager pipeline, recording every component call (inputs and outputs); with an
    audio `driver`, also the speech-driven frames and the audio component's calls (only those:
    the frame components are calibrated and checked on the video-driven calls alone)."""
    ref = Reference()
    animator = Animator(model)
    if driver is not None:
        audio = AudioComponent(driver)
        _record(audio, ref.calls[audio.name])
        ref.speech_windows = speech_windows(cal, driver)
        ref.speech_images = run_speech(animator, cal, audio, ref.speech_windows)
    for name, attr in COMPONENT_ATTRS.items():
        _record(getattr(animator, attr), ref.calls[name])
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
    return _frame_figures(f"end-to-end frames on the {cal.name} faces", ref.images, images)


def speech_end_to_end(model: PortraitModel, cal: CalibrationSet, ref: Reference,
                      runners: dict[str, Callable[..., tuple[torch.Tensor, ...]]]
                      ) -> dict[str, float]:
    """The speech-driven pipeline with artifacts in place of components (the audio one
    included), against eager float."""
    images = run_speech(Animator(model, runners=runners), cal, runners[AudioComponent.name],
                        ref.speech_windows)
    return _frame_figures(f"speech-driven frames on the {cal.name} faces", ref.speech_images,
                          images)


def _frame_figures(what: str, expected: list[np.ndarray], actual: list[np.ndarray]
                   ) -> dict[str, float]:
    pairs = paired(what, expected, actual)
    psnrs = [psnr(a, b) for a, b in pairs]
    return {"frames": len(pairs), "psnr_db_min": round(min(psnrs), 2),
            "psnr_db_mean": round(float(np.mean(psnrs)), 2),
            "ssim_min": round(min(ssim(a, b) for a, b in pairs), 5)}
