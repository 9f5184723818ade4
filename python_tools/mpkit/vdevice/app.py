"""The virtual device's app: the Kotlin core's benchmark (`org.mpkit.core.HostBenchmarkKt`) on
the host JVM, its models run and its sample media decoded by the tensor bridge on the host."""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path

from mpkit.bench.protocol import BenchRequest
from mpkit.errors import MpkitError
from mpkit.vdevice.process import module_command

ROOT = Path(__file__).resolve().parents[3]
HOST_BENCHMARK = "org.mpkit.core.HostBenchmarkKt"
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


def benchmark_command(extras: dict, bundle: Path, results: Path,
                      bridge: list[str] | None = None) -> list[str]:
    """The app's benchmark for one request; `bridge` is the tensor bridge's command."""
    return ["java", "-cp", core_classpath(), HOST_BENCHMARK, json.dumps(extras), str(bundle),
            str(results), *(bridge or module_command("mpkit.vdevice.tensor_bridge"))]


def run(request: BenchRequest, bundle: Path, results: Path, env: dict | None = None,
        bridge: list[str] | None = None, timeout_s: float = 900) -> dict:
    """One run of the app to its end, outside any virtual device (tests, benchmarks/): the
    result JSON it wrote."""
    done = subprocess.run(benchmark_command(request.extras(), bundle, results, bridge),
                          capture_output=True, text=True, timeout=timeout_s, env=env)
    path = results / f"{request.run_id}.json"
    if done.returncode != 0 or not path.is_file():
        raise MpkitError(f"the app ended with code {done.returncode} and no result: "
                         f"{done.stderr.strip()[-1500:]}")
    return json.loads(path.read_text())
