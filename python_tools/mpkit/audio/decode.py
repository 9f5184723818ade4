"""Audio files in, 16 kHz mono float32 out: any file ffmpeg reads (wav of any sample format,
mp3, and the audio track of mp4/webm), through the ffmpeg binary imageio-ffmpeg ships. The
downmix (channel mean) and the resampler (polyphase windowed sinc) are ours, so the app's
Kotlin front end can do exactly the same."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from mpkit.errors import MediaError

MAX_SECONDS = 600  # longer inputs are refused before decoding (10 min of driving audio)
_STREAM = re.compile(r"Stream #\S+.*?: Audio: ([^,]+), (\d+) Hz, ([^,]+)")
_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+\.\d+)")
RESAMPLER_WINDOW = ("kaiser", 5.0)  # scipy.signal.resample_poly's default, stated


@dataclass(frozen=True)
class Audio:
    samples: np.ndarray  # float32 mono in [-1, 1]
    rate: int
    source_rate: int
    source_channels: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate


def _probe(path: Path) -> tuple[int, int]:
    """(sample rate, channels) of the file's first audio stream."""
    out = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                         capture_output=True, text=True, errors="replace").stderr
    if "Invalid data found" in out or "could not find codec" in out or "Input #0" not in out:
        detail = out.strip().splitlines()[-1] if out.strip() else "unknown format"
        raise MediaError(f"{path}: not an audio or video file ffmpeg can read ({detail})")
    stream = _STREAM.search(out)
    if stream is None:
        raise MediaError(f"{path}: has no audio track; give a file with sound (wav, mp3, or an "
                         "mp4/webm with an audio stream)")
    duration = _DURATION.search(out)
    if duration is not None:
        h, m, s = duration.groups()
        seconds = int(h) * 3600 + int(m) * 60 + float(s)
        if seconds > MAX_SECONDS:
            raise MediaError(f"{path}: {seconds:.0f} s of audio, more than the {MAX_SECONDS} s "
                             "mpkit reads; cut it first")
    layout = stream.group(3).strip()
    channels = {"mono": 1, "stereo": 2}.get(layout)
    if channels is None:
        found = re.match(r"(\d+) channels", layout)
        channels = int(found.group(1)) if found else 0
    if channels < 1:
        raise MediaError(f"{path}: unsupported channel layout {layout!r}")
    return int(stream.group(2)), channels


def resample(samples: np.ndarray, source_rate: int, rate: int) -> np.ndarray:
    """Polyphase windowed-sinc resampling by the reduced ratio rate/source_rate."""
    if source_rate == rate:
        return samples.astype(np.float32)
    from scipy.signal import resample_poly

    g = gcd(rate, source_rate)
    return resample_poly(samples.astype(np.float64), rate // g, source_rate // g,
                         window=RESAMPLER_WINDOW).astype(np.float32)


def read_audio(path: str | Path, rate: int = 16000) -> Audio:
    """The file's first audio stream as mono float32 at `rate`."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such file")
    source_rate, channels = _probe(path)
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-v", "error", "-i", str(path),
           "-map", "0:a:0", "-f", "f32le", "-acodec", "pcm_f32le", "-"]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        detail = lines[-1] if lines else f"ffmpeg exited with {proc.returncode}"
        raise MediaError(f"{path}: cannot decode its audio ({detail})")
    raw = np.frombuffer(proc.stdout, np.float32)
    if len(raw) % channels:
        raise MediaError(f"{path}: the decoded audio breaks off mid-sample")
    mono = raw.reshape(-1, channels).mean(axis=1)
    if not len(mono):
        raise MediaError(f"{path}: the audio track is empty")
    return Audio(resample(mono, source_rate, rate), rate, source_rate, channels)
