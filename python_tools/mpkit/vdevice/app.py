"""The virtual device's app: the Kotlin core's benchmark (`org.mpkit.core.HostBenchmarkKt`) on
the host JVM, its models run by the tensor bridge on the host runtimes. What a phone's app does
itself with its platform decoders, the virtual device does first: the bundle's sample photo and
driving clip become raw RGB files the core reads."""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path

from mpkit.errors import MpkitError
from mpkit.vdevice.process import module_command

ROOT = Path(__file__).resolve().parents[3]
HOST_BENCHMARK = "org.mpkit.core.HostBenchmarkKt"
MAX_DRIVING_FRAMES = 900  # 30 s at 30 fps: the clip repeats for longer runs
BUILD_TIMEOUT_S = 1200  # a first build installs the Kotlin tools


@functools.cache
def core_classpath() -> str:
    """The built Kotlin core's classpath (built once, then reused while its sources stand)."""
    script = ROOT / "scripts" / "kotlin.sh"
    if not script.is_file():
        raise MpkitError("the virtual device's app is the Kotlin core in android_app/, built by "
                         "scripts/kotlin.sh: run mpkit from a source checkout")
    run = subprocess.run(["bash", str(script), "classpath"], cwd=ROOT, capture_output=True,
                         text=True, timeout=BUILD_TIMEOUT_S)
    if run.returncode != 0:
        raise MpkitError(f"the Kotlin core did not build: {run.stderr.strip()[-1500:]}")
    return run.stdout.strip().splitlines()[-1]


def decode_media(helpers: dict[str, Path], out: Path) -> list[str]:
    """SOURCE W H DRIVING W H: the sample photo and driving clip as raw RGB files in `out`."""
    import numpy as np

    from mpkit.media.image import read_image
    from mpkit.media.video import read_frames

    photo = read_image(helpers["sample_source"])
    frames = np.stack(list(read_frames(helpers["sample_driving"], limit=MAX_DRIVING_FRAMES)))
    out.mkdir(parents=True, exist_ok=True)
    (out / "source.rgb").write_bytes(photo.tobytes())
    (out / "driving.rgb").write_bytes(frames.tobytes())
    return [str(out / "source.rgb"), str(photo.shape[1]), str(photo.shape[0]),
            str(out / "driving.rgb"), str(frames.shape[2]), str(frames.shape[1])]


def benchmark_command(extras: dict, bundle: Path, results: Path, media: list[str],
                      bridge: list[str] | None = None) -> list[str]:
    """The app's benchmark for one request; `bridge` is the tensor bridge's command."""
    return ["java", "-cp", core_classpath(), HOST_BENCHMARK, json.dumps(extras), str(bundle),
            str(results), *media, *(bridge or module_command("mpkit.vdevice.tensor_bridge"))]
