"""Animate a photo with speech: the audio is fed to the feature stream in chunks, as a
microphone would deliver it, and every video frame is rendered as soon as its window is
complete. The same loop makes the mp4 and measures audio-to-frame latency (the chunk that
completes a frame's window arrives → that frame is ready)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mpkit.audio.decode import read_audio
from mpkit.audio.features import Stream, check_length, frame_count
from mpkit.bench.stats import percentiles
from mpkit.media.image import read_image
from mpkit.media.video import mux_audio, write_video
from mpkit.models.audio import AudioComponent, AudioDriver
from mpkit.models.portrait import PortraitModel
from mpkit.pipeline.animator import Animator, Avatar
from mpkit.pipeline.render import stamp_untrained


@dataclass(frozen=True)
class SpeechFrame:
    index: int
    image: np.ndarray  # RGB uint8 256²
    mouth: np.ndarray  # [opening, width] the driver predicted, relative to rest
    latency_ms: float  # completing chunk arrived → frame ready


@torch.no_grad()
def speak(animator: Animator, avatar: Avatar, audio: Callable[..., tuple[torch.Tensor, ...]],
          window: torch.Tensor) -> tuple[np.ndarray, torch.Tensor]:
    """One frame driven by one feature window [mels, context] through `audio` (the audio
    component or an artifact's runner): (RGB uint8 image, the mouth state [1, 2] it predicted)."""
    kp, mouth = audio(window[None, :, None], avatar.kp)
    return animator.render(avatar, kp), mouth


def speech_frames(animator: Animator, avatar: Avatar, driver: AudioDriver, samples: np.ndarray,
                  fps: float, chunk: int, realtime: bool = False,
                  clock: Callable[[], float] = time.perf_counter) -> Iterator[SpeechFrame]:
    """The frames of `samples` (mono at the driver's rate) pushed `chunk` samples at a time.
    With `realtime`, chunk k arrives when its last sample would have been recorded (the loop
    sleeps until then), so a frame stage slower than real time shows up as queueing; without
    it, each chunk arrives when the previous chunk's frames are done."""
    stream, component = Stream(driver.spec, fps), AudioComponent(driver)
    start = clock()

    def render(windows, arrived: float) -> Iterator[SpeechFrame]:
        for index, window in windows:
            image, mouth = speak(animator, avatar, component, torch.from_numpy(window))
            yield SpeechFrame(index, image, mouth[0].numpy(), (clock() - arrived) * 1e3)

    for end in range(chunk, len(samples) + chunk, chunk):
        if realtime:
            due = start + min(end, len(samples)) / driver.spec.sample_rate
            time.sleep(max(0.0, due - clock()))
            arrived = due
        else:
            arrived = clock()
        yield from render(stream.push(samples[end - chunk:end]), arrived)
    yield from render(stream.finish(), clock())


@dataclass(frozen=True)
class SpeechAnimation:
    output: Path
    frames: int
    fps: float
    audio_seconds: float
    seconds: float  # wall time of the frame loop
    chunk_ms: float
    realtime: bool
    lookahead_ms: float  # audio past a frame's time its window waits for (the features' budget)
    latency: dict[str, float | int]  # chunk arrived → frame ready, percentiles in ms
    trained: bool
    faces_in_source: int

    @property
    def render_fps(self) -> float:
        return self.frames / self.seconds


def animate_speech(model: PortraitModel, driver: AudioDriver, source: Path, audio: Path,
                   output: Path, fps: float = 25.0, chunk_ms: float = 20.0,
                   realtime: bool = False, side_by_side: bool = False,
                   progress: Callable[[int, int], None] = lambda done, total: None
                   ) -> SpeechAnimation:
    """An mp4 of the source photo speaking `audio`, at `fps`, with that audio muxed in: as many
    frames as the audio lasts at `fps` (to the nearest frame)."""
    spec = driver.spec
    samples = read_audio(audio, spec.sample_rate).samples
    check_length(spec, len(samples), fps, str(audio))
    total = frame_count(spec, len(samples), fps)
    chunk = max(1, round(chunk_ms * spec.sample_rate / 1e3))
    animator = Animator(model)
    trained = bool(getattr(model, "trained", False))
    avatar = animator.prepare_source(read_image(source), name=str(source))
    latencies: list[float] = []
    start = time.perf_counter()

    def frames():
        for frame in speech_frames(animator, avatar, driver, samples, fps, chunk, realtime):
            latencies.append(frame.latency_ms)
            out = frame.image if trained else stamp_untrained(frame.image)
            progress(frame.index + 1, total)
            yield np.concatenate([avatar.image, out], axis=1) if side_by_side else out

    Path(output).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=Path(output).parent, prefix=".speech.") as tmp:
        silent = Path(tmp) / "frames.mp4"
        count = write_video(silent, frames(), fps)
        seconds = time.perf_counter() - start
        mux_audio(silent, audio, output)
    return SpeechAnimation(Path(output), count, fps, len(samples) / spec.sample_rate, seconds,
                           chunk * 1e3 / spec.sample_rate, realtime, spec.latency_s() * 1e3,
                           percentiles(latencies),
                           trained, avatar.faces_found)
