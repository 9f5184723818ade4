"""`mpkit bench run`: bundles × delegates × repeats in random order on each device (one worker
thread per device), deploy, thermal gate, start the benchmark activity, read the result back,
store each record the moment it arrives. A run resumes without redoing finished cells."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mpkit.bench import quality
from mpkit.bench.protocol import (
    APP_PACKAGE, BENCH_ACTIVITY, RESULTS_DIR, BenchRequest, BenchResult, parse_result,
)
from mpkit.bench.stats import summarize
from mpkit.bench.store import Store
from mpkit.device.adb import Device
from mpkit.device.deploy import deploy
from mpkit.device.errors import CommandFailed, DeviceTimeout
from mpkit.errors import DeviceError
from mpkit.export.bundle import verify
from mpkit.media.assets import sha256_file


@dataclass
class BenchSpec:
    bundles: list[str]
    delegates: list[str] = field(default_factory=lambda: ["cpu"])
    frames: int = 60
    warmup: int = 5
    repeat: int = 1
    sustained_min: float = 0.0
    capture_frames: int = 0
    cooldown_s: float = 5.0
    max_start_temp_c: float = 45.0
    timeout_s: float = 600.0
    seed: int = 0

    def cells(self) -> list[tuple[str, str, int]]:
        cells = [(b, d, r) for b in self.bundles for d in self.delegates
                 for r in range(self.repeat)]
        random.Random(self.seed).shuffle(cells)
        return cells


def cell_key(bundle: str, delegate: str, repeat: int) -> str:
    return f"{Path(bundle).name}|{delegate}|{repeat}"


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def _max_temp(device: Device) -> float | None:
    temps = device.thermal_c()
    return max(temps.values()) if temps else None


def thermal_gate(device: Device, spec: BenchSpec) -> float | None:
    """Cool down, then wait (bounded) until the device is below the start temperature."""
    time.sleep(spec.cooldown_s)
    deadline = time.monotonic() + 10 * max(spec.cooldown_s, 1)
    temp = _max_temp(device)
    while temp is not None and temp > spec.max_start_temp_c and time.monotonic() < deadline:
        time.sleep(max(spec.cooldown_s, 1))
        temp = _max_temp(device)
    return temp


def wait_for_result(device: Device, request: BenchRequest, timeout_s: float) -> BenchResult:
    """Polls the app's result file; an app crash in logcat ends the wait with its excerpt."""
    path = f"{RESULTS_DIR}/{request.run_id}.json"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        listing = device.shell(["run-as", APP_PACKAGE, "ls", RESULTS_DIR], check=False).out
        if f"{request.run_id}.json" in listing.split():
            return parse_result(device.read_app_file(APP_PACKAGE, path),
                                f"{device.serial}:{path}")
        log = device.shell(["logcat", "-d"], check=False).out
        crash = [ln for ln in log.splitlines() if "AndroidRuntime" in ln and APP_PACKAGE in log]
        if any("FATAL EXCEPTION" in ln for ln in crash):
            raise CommandFailed(f"{device.serial}: the benchmark app crashed:\n  "
                                + "\n  ".join(crash[-4:]))
        time.sleep(0.5)
    raise DeviceTimeout(f"{device.serial}: no result for {request.run_id} after "
                        f"{timeout_s:.0f} s (the benchmark hung)")


def run_cell(device: Device, spec: BenchSpec, run_id: str, bundle: Path, delegate: str,
             repeat: int, virtual: bool) -> dict:
    manifest = verify(bundle)
    remote, _ = deploy(device, bundle)
    before = thermal_gate(device, spec)
    request = BenchRequest(run_id=f"{run_id}-{uuid.uuid4().hex[:8]}", bundle_dir=remote,
                           delegate=delegate, frames=spec.frames, warmup=spec.warmup,
                           sustained_min=spec.sustained_min, capture_frames=spec.capture_frames)
    device.shell(["logcat", "-c"], check=False)  # a crash found later is this run's
    device.start_activity(BENCH_ACTIVITY, request.extras())
    result = wait_for_result(device, request, spec.timeout_s)
    after = _max_temp(device)
    record = {
        "status": result.status, "error": result.error, "virtual": int(virtual),
        "measured_on": result.measured_on, "model_id": manifest.model_id,
        "backend": manifest.backend, "precision": manifest.precision, "delegate": delegate,
        "bundle": bundle.name, "repeat": repeat,
        "manifest_sha256": sha256_file(bundle / "manifest.json"),
        "temperature_before_c": before, "temperature_after_c": after,
        "request": request.model_dump(), "result": result.model_dump(),
        "tools": manifest.tools,
    }
    if result.times is not None:
        record.update(summarize(result.times.frame_ms), load_ms=result.times.load_ms,
                      source_stage_ms=result.times.source_stage_ms, pss_mb=result.pss_mb)
    if result.captured_frames:
        frames = [quality.decode_png(device.read_app_bytes(APP_PACKAGE, f"{RESULTS_DIR}/{f}"))
                  for f in result.captured_frames]
        indices = [spec.warmup + k for k in range(len(frames))]
        record["quality"] = quality.compare(frames,
                                            quality.reference_frames(manifest, bundle, indices))
    return record


def run_bench(spec: BenchSpec, devices: list[Device], store: Store, run_id: str | None = None,
              progress: Callable[[str], None] = lambda message: None) -> str:
    """Runs every cell on every device; returns the run id (pass it again to resume)."""
    run_id = run_id or new_run_id()
    stored = store.run_spec(run_id)
    if stored is not None and stored["bundles"] != spec.bundles:
        raise DeviceError(f"run {run_id} was started with other bundles: {stored['bundles']}")
    store.create_run(run_id, asdict(spec))
    errors: list[BaseException] = []

    def worker(device: Device) -> None:
        try:
            info = device.info()
            done = store.done_cells(run_id, device.serial)
            for bundle, delegate, repeat in spec.cells():
                key = cell_key(bundle, delegate, repeat)
                if key in done:
                    progress(f"{device.serial}: {key} already done")
                    continue
                progress(f"{device.serial}: {key}")
                record = run_cell(device, spec, run_id, Path(bundle), delegate, repeat,
                                  info.virtual)
                record["device"] = info.as_dict()
                store.insert(run_id, key, device.serial, record)
        except BaseException as e:  # reported after every worker has finished
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(d,)) for d in devices]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        first = errors[0]
        if isinstance(first, DeviceError):
            raise type(first)(f"{first} (finished records are kept; resume with --resume "
                              f"{run_id})") from first
        raise first
    return run_id
