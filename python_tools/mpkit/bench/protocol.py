"""The benchmark protocol between the harness and the app (and the virtual device): intent
extras in, a versioned result JSON out under the app's files folder. The Kotlin app follows the
same names; golden fixtures in testdata/protocol/ are checked by both test suites."""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mpkit.errors import DeviceError

PROTOCOL_VERSION = 2  # 2: times.audio_latency_ms (speech driving)
APP_PACKAGE = "org.mpkit.bench"
BENCH_ACTIVITY = f"{APP_PACKAGE}/.BenchmarkActivity"
RESULTS_DIR = "files/bench"  # relative to the app's data folder; read back with run-as
DELEGATES = ("cpu", "xnnpack", "gpu", "nnapi", "vulkan", "qnn")
DRIVING_MODES = ("synthetic", "video", "audio")
MAX_RESULT_BYTES = 16 * 1024 * 1024  # a result is a few hundred kB even for sustained runs


class BenchRequest(BaseModel):
    """Intent extras (`am start --es/--ei/--ef`), one field per extra, same names in Kotlin."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    run_id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    bundle_dir: str
    delegate: str = "cpu"
    frames: int = Field(60, ge=1)
    warmup: int = Field(5, ge=0)
    threads: int = Field(2, ge=1)
    driving: str = "video"
    sustained_min: float = Field(0.0, ge=0)
    capture_frames: int = Field(0, ge=0)

    def extras(self) -> dict[str, str | int | float]:
        return self.model_dump()


class StageTimes(BaseModel):
    model_config = ConfigDict(extra="forbid")
    load_ms: float
    source_stage_ms: float
    frame_ms: list[float]
    component_ms: dict[str, list[float]]  # inside the runtime, one entry per call
    # Per measured frame, what its component calls spent outside the runtimes, in the virtual
    # device's tensor bridge; None where the components run in the app's own process.
    bridge_ms: list[float] | None = None
    # Driven by speech, per measured frame: the chunk that completed its feature window arrived
    # → the frame was ready (chunks fed as soon as earlier frames are done); None by video.
    audio_latency_ms: list[float] | None = None


class SustainedPoint(BaseModel):
    model_config = ConfigDict(extra="forbid")
    minute: float
    fps: float
    temperature_c: float | None


class BenchResult(BaseModel):
    """What the app writes to files/bench/<run_id>.json."""

    model_config = ConfigDict(extra="forbid")
    protocol_version: int
    run_id: str
    status: str = Field(pattern="^(ok|error)$")
    error: str | None = None
    measured_on: str  # "device" or "host (virtual device)"
    # What really ran (the harness checks them against the request and the bundle):
    runtime: str
    delegate: str
    threads: int
    driving: str
    times: StageTimes | None = None
    pss_mb: float | None = None
    sustained: list[SustainedPoint] = []
    captured_frames: list[str] = []  # files (relative to the results folder) of output frames


def parse_result(data: bytes | str, source: str) -> BenchResult:
    """The result file's bytes as a BenchResult; anything malformed is a one-line DeviceError."""
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > MAX_RESULT_BYTES:
        raise DeviceError(f"{source}: the result is {len(raw)} bytes, over the "
                          f"{MAX_RESULT_BYTES} byte cap: not a benchmark result")
    try:
        parsed = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise DeviceError(f"{source}: the result is not UTF-8 text ({e.reason} at byte "
                          f"{e.start})") from e
    except json.JSONDecodeError as e:
        raise DeviceError(f"{source}: the result is not JSON ({e})") from e
    except RecursionError as e:
        raise DeviceError(f"{source}: the result JSON is nested too deeply") from e
    if not isinstance(parsed, dict):
        raise DeviceError(f"{source}: the result is a JSON {type(parsed).__name__}, not an "
                          "object")
    version = parsed.get("protocol_version")
    if version != PROTOCOL_VERSION:
        raise DeviceError(f"{source}: result protocol version {version}; this mpkit reads "
                          f"version {PROTOCOL_VERSION}: update mpkit or the app so they match")
    try:
        return BenchResult(**parsed)
    except ValidationError as e:
        raise DeviceError(f"{source}: the result does not match protocol version "
                          f"{PROTOCOL_VERSION}: {validation_summary(e)}") from e


def validation_summary(error: ValidationError) -> str:
    """A pydantic error as one line: each bad field and why."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'result'}: {e['msg']}"
                     for e in error.errors(include_url=False)[:5]) + (
        f" (and {error.error_count() - 5} more)" if error.error_count() > 5 else "")
