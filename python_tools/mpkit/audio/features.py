"""Log-mel features per video frame (`models/audio_features.yaml`), offline and streaming.

Mel frame k covers samples [k*hop, k*hop + window) of the audio, zero before its start and after
its end. Video frame i (time i/fps) gets the `context` mel frames ending `lookahead` frames past
floor(i/fps * sample_rate / hop): a window of the past plus a small, stated look-ahead, so a
stream can emit frame i as soon as the audio up to that point has arrived."""

from __future__ import annotations

import math
from functools import cached_property
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mpkit.configfile import load_yaml
from mpkit.errors import MediaError
from mpkit.models.config import models_dir


class FeatureSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    sample_rate: int = Field(gt=0)
    window: int = Field(gt=0)
    hop: int = Field(gt=0)
    fft: int = Field(gt=0)
    mels: int = Field(gt=0)
    fmin_hz: float = Field(ge=0)
    fmax_hz: float = Field(gt=0)
    log_floor: float = Field(gt=0)
    context: int = Field(gt=0)
    lookahead: int = Field(ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> FeatureSpec:
        if self.window > self.fft:
            raise ValueError(f"window {self.window} is longer than fft {self.fft}")
        if not self.fmin_hz < self.fmax_hz <= self.sample_rate / 2:
            raise ValueError("need fmin_hz < fmax_hz <= sample_rate / 2")
        return self

    def latency_s(self) -> float:
        """The most audio past a video frame's time its window needs (look-ahead + one mel
        frame): how long a stream waits before it can emit that frame."""
        return (self.lookahead * self.hop + self.window) / self.sample_rate

    def newest_frame(self, video_frame: int, fps: float) -> int:
        """The last mel frame of video frame `video_frame`'s window."""
        return math.floor(video_frame / fps * self.sample_rate / self.hop) + self.lookahead

    def samples_needed(self, video_frame: int, fps: float) -> int:
        """How many samples must have arrived before video frame `video_frame` can be emitted."""
        return self.newest_frame(video_frame, fps) * self.hop + self.window

    @cached_property
    def filterbank(self) -> np.ndarray:
        """[mels, fft/2+1] triangular HTK-mel filters over the rFFT bins."""
        def mel(f):
            return 2595.0 * np.log10(1.0 + f / 700.0)

        edges = 700.0 * (10 ** (np.linspace(mel(self.fmin_hz), mel(self.fmax_hz),
                                            self.mels + 2) / 2595.0) - 1.0)
        bins = np.arange(self.fft // 2 + 1) * self.sample_rate / self.fft
        lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
        return np.maximum(0.0, np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)))

    @cached_property
    def hann(self) -> np.ndarray:
        return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(self.window) / self.window)


def load_spec(path: Path | None = None) -> FeatureSpec:
    return load_yaml(FeatureSpec, path or models_dir() / "audio_features.yaml")


def mel_frames(spec: FeatureSpec, samples: np.ndarray, first: int, count: int) -> np.ndarray:
    """[count, mels] float32 log-mel of mel frames first .. first+count-1 of `samples`."""
    starts = (np.arange(first, first + count) * spec.hop)[:, None] + np.arange(spec.window)
    valid = (starts >= 0) & (starts < len(samples))
    frames = np.where(valid, samples[np.clip(starts, 0, max(len(samples) - 1, 0))], 0.0)
    power = np.abs(np.fft.rfft(frames * spec.hann, n=spec.fft)) ** 2
    return np.log(np.maximum(power @ spec.filterbank.T, spec.log_floor)).astype(np.float32)


def frame_count(spec: FeatureSpec, samples: int, fps: float) -> int:
    """Video frames of audio `samples` long at `fps` (the video is as long as the audio, to the
    nearest frame, halves up)."""
    return math.floor(samples / spec.sample_rate * fps + 0.5)


def check_length(spec: FeatureSpec, samples: int, fps: float, name: str) -> None:
    if samples < spec.window or frame_count(spec, samples, fps) < 1:
        raise MediaError(f"{name}: {samples / spec.sample_rate * 1e3:.0f} ms of audio, shorter "
                         f"than one feature window ({spec.window / spec.sample_rate * 1e3:.0f} ms)"
                         f" or one video frame at {fps:g} fps; give a longer clip")


def frame_windows(spec: FeatureSpec, samples: np.ndarray, fps: float,
                  name: str = "audio") -> np.ndarray:
    """[frames, mels, context] float32: each video frame's feature window, for the whole audio."""
    check_length(spec, len(samples), fps, name)
    n = frame_count(spec, len(samples), fps)
    first = spec.newest_frame(0, fps) - spec.context + 1
    last = spec.newest_frame(n - 1, fps)
    mels = mel_frames(spec, samples, first, last - first + 1)
    return np.stack([mels[spec.newest_frame(i, fps) - spec.context + 1 - first:
                          spec.newest_frame(i, fps) + 1 - first].T for i in range(n)])


class Stream:
    """Feature windows as audio arrives: `push` chunks of samples and get the windows of every
    video frame whose audio is now complete (never waiting longer than `spec.latency_s()` past
    the frame's time); `finish` pads the end with silence and emits the rest."""

    def __init__(self, spec: FeatureSpec, fps: float):
        self.spec, self.fps = spec, fps
        self._audio = np.zeros(0, np.float32)
        self._offset = 0  # sample number of self._audio[0]
        self._next = 0  # next video frame to emit

    def push(self, chunk: np.ndarray) -> list[tuple[int, np.ndarray]]:
        self._audio = np.concatenate([self._audio, np.asarray(chunk, np.float32)])
        return self._emit(self._offset + len(self._audio))

    def finish(self, name: str = "audio stream") -> list[tuple[int, np.ndarray]]:
        total = self._offset + len(self._audio)
        check_length(self.spec, total, self.fps, name)
        n = frame_count(self.spec, total, self.fps)
        out = []
        while self._next < n:
            out.append(self._window(self._next))
            self._next += 1
        return out

    def _emit(self, arrived: int) -> list[tuple[int, np.ndarray]]:
        out = []
        while self.spec.samples_needed(self._next, self.fps) <= arrived:
            out.append(self._window(self._next))
            self._next += 1
        keep = (self.spec.newest_frame(self._next, self.fps) - self.spec.context + 1) \
            * self.spec.hop
        drop = max(0, min(keep - self._offset, len(self._audio)))
        self._audio, self._offset = self._audio[drop:], self._offset + drop
        return out

    def _window(self, i: int) -> tuple[int, np.ndarray]:
        spec = self.spec
        first = spec.newest_frame(i, self.fps) - spec.context + 1
        # on the buffered audio, whose first sample starts a mel frame (offset = k * hop)
        return i, mel_frames(spec, self._audio, first - self._offset // spec.hop, spec.context).T
