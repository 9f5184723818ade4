"""Video I/O through the ffmpeg binary that imageio-ffmpeg ships (H.264 mp4 out)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from mpkit.errors import MediaError
from mpkit.media.files import atomic_output


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    frames: int


def _reader(path: Path):
    if not path.is_file():
        raise MediaError(f"{path}: no such file")
    try:
        gen = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
        meta = next(gen)
    except (RuntimeError, OSError, StopIteration) as e:
        raise MediaError(f"{path}: cannot decode video ({str(e).strip().splitlines()[0]})") from e
    return gen, meta


def video_info(path: str | Path) -> VideoInfo:
    path = Path(path)
    gen, meta = _reader(path)
    gen.close()
    try:
        frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    except (RuntimeError, OSError) as e:
        raise MediaError(f"{path}: cannot count frames ({e})") from e
    w, h = meta["size"]
    return VideoInfo(width=w, height=h, fps=float(meta["fps"]), frames=frames)


def read_frames(path: str | Path, limit: int | None = None) -> Iterator[np.ndarray]:
    """RGB uint8 [H, W, 3] frames. A stream that breaks off part-way raises MediaError naming
    the frame, so a truncated file is never mistaken for a short one."""
    path = Path(path)
    gen, meta = _reader(path)
    w, h = meta["size"]
    index = 0
    try:
        for raw in gen:
            if limit is not None and index >= limit:
                break
            yield np.frombuffer(raw, np.uint8).reshape(h, w, 3)
            index += 1
    except (RuntimeError, OSError) as e:
        raise MediaError(f"{path}: cannot decode frame {index} ({str(e).strip().splitlines()[0]})") from e
    finally:
        gen.close()
    if index == 0:
        raise MediaError(f"{path}: the video has no decodable frames")


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float) -> int:
    """Encodes RGB frames as H.264 mp4 atomically; returns the frame count."""
    path = Path(path)
    count = 0
    with atomic_output(path) as tmp:
        writer = None
        try:
            for frame in frames:
                if writer is None:
                    h, w = frame.shape[:2]
                    writer = imageio_ffmpeg.write_frames(
                        str(tmp), (w, h), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                        quality=8, macro_block_size=1, ffmpeg_log_level="error",
                    )
                    writer.send(None)
                writer.send(np.ascontiguousarray(frame))
                count += 1
        finally:
            if writer is not None:
                writer.close()
        if count == 0:
            raise MediaError(f"{path}: no frames to write")
    return count


def mux_audio(video: str | Path, audio: str | Path, output: str | Path) -> None:
    """`video`'s frames (copied, not re-encoded) with `audio`'s first audio stream as AAC, into
    `output` atomically."""
    with atomic_output(output) as tmp:
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-v", "error", "-y",
               "-i", str(video), "-i", str(audio), "-map", "0:v:0", "-map", "1:a:0",
               "-c:v", "copy", "-c:a", "aac", "-b:a", "128k", str(tmp)]
        proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines()
            raise MediaError(f"{output}: cannot add the audio of {audio} "
                             f"({lines[-1] if lines else f'ffmpeg exited with {proc.returncode}'})")
