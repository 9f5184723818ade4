"""The benchmark protocol between the harness and the app (and the virtual device): intent
extras in, a versioned result JSON out under the app's files folder. The Kotlin app follows the
same names; golden fixtures in testdata/protocol/ are checked by both test suites."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from mpkit.errors import DeviceError

PROTOCOL_VERSION = 1
APP_PACKAGE = "org.mpkit.bench"
BENCH_ACTIVITY = f"{APP_PACKAGE}/.BenchmarkActivity"
RESULTS_DIR = "files/bench"  # relative to the app's data folder; read back with run-as
DELEGATES = ("cpu", "xnnpack", "gpu", "nnapi", "vulkan", "qnn")
DRIVING_MODES = ("synthetic", "video", "audio")


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
    component_ms: dict[str, list[float]]


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
    runtime: str
    delegate: str
    times: StageTimes | None = None
    pss_mb: float | None = None
    sustained: list[SustainedPoint] = []
    captured_frames: list[str] = []  # files (relative to the results folder) of output frames


def parse_result(text: str, source: str) -> BenchResult:
    import json

    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DeviceError(f"{source}: the result is not JSON ({e})") from e
    version = data.get("protocol_version")
    if version != PROTOCOL_VERSION:
        raise DeviceError(f"{source}: result protocol version {version}; this mpkit reads "
                          f"version {PROTOCOL_VERSION}: update mpkit or the app so they match")
    return BenchResult(**data)
