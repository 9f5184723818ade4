"""`mpkit bench run`: bundles × delegates × repeats in random order on each device (one worker
thread per device), deploy, thermal gate, start the benchmark activity, read the result back,
check it says it ran what was asked, store each record the moment it arrives. A run resumes
without redoing finished cells, only with the spec it was started with."""

from __future__ import annotations

import random
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mpkit.bench import quality
from mpkit.bench.protocol import (
    APP_PACKAGE, BENCH_ACTIVITY, DELEGATES, DRIVING_MODES, MAX_RESULT_BYTES, RESULTS_DIR,
    BenchRequest, BenchResult, parse_result,
)
from mpkit.bench.stats import percentiles, summarize
from mpkit.bench.store import Store
from mpkit.device import dumpsys
from mpkit.device.adb import Device
from mpkit.device.deploy import deploy
from mpkit.device.errors import CommandFailed, DeviceTimeout
from mpkit.errors import DeviceError, MpkitError, UsageError
from mpkit.export.backends import get_backend
from mpkit.export.bundle import Manifest, verify
from mpkit.media.assets import sha256_file

MAX_FRAME_BYTES = 16 * 1024 * 1024  # one captured PNG read back from the device
RESUME_IGNORES = ("timeout_s",)  # how long to wait may change on resume; what is measured not


@dataclass
class BenchSpec:
    bundles: list[str]
    delegates: list[str | None] = field(default_factory=lambda: [None])  # None: the default
    frames: int = 60
    warmup: int = 5
    repeat: int = 1
    threads: int = 2
    driving: str = "video"
    sustained_min: float = 0.0
    capture_frames: int = 0
    cooldown_s: float = 5.0
    max_start_temp_c: float = 45.0
    thermal_wait_s: float = 60.0  # how long the gate waits for the start temperature
    require_cool: bool = False  # a cell still hot after the wait is refused, not measured hot
    timeout_s: float = 600.0  # result wait beyond the sustained duration
    seed: int = 0

    def check(self) -> None:
        """UsageError naming the first setting no benchmark can run with."""
        bad = [(self.bundles, "at least one bundle", bool(self.bundles)),
               (self.delegates, "at least one delegate", bool(self.delegates)),
               (self.frames, "frames >= 1", self.frames >= 1),
               (self.warmup, "warmup >= 0", self.warmup >= 0),
               (self.repeat, "repeat >= 1", self.repeat >= 1),
               (self.threads, "threads >= 1", self.threads >= 1),
               (self.sustained_min, "sustained >= 0", self.sustained_min >= 0),
               (self.capture_frames, f"capture between 0 and frames ({self.frames})",
                0 <= self.capture_frames <= self.frames),
               (self.timeout_s, "timeout > 0", self.timeout_s > 0),
               (self.cooldown_s, "cooldown >= 0", self.cooldown_s >= 0),
               (self.driving, f"driving one of {', '.join(DRIVING_MODES)}",
                self.driving in DRIVING_MODES)]
        bad += [(d, f"delegate one of {', '.join(DELEGATES)}", False)
                for d in self.delegates if d is not None and d not in DELEGATES]
        for value, wanted, ok in bad:
            if not ok:
                raise UsageError(f"bench: got {value!r}, need {wanted}")


@dataclass(frozen=True)
class Cell:
    bundle: Path
    manifest: Manifest
    manifest_sha256: str
    delegate: str
    repeat: int

    @property
    def key(self) -> str:
        """Unique per bundle path (two bundles may share a folder name), delegate and repeat."""
        return f"{self.bundle}|{self.delegate}|{self.repeat}"


def default_delegate(backend_name: str) -> str:
    """The delegate a bundle's backend runs with unless one is asked for: its first host
    delegate (tflite: cpu, executorch-xnnpack: xnnpack), else its target (vulkan, qnn)."""
    backend = get_backend(backend_name)
    return backend.host_delegates[0] if backend.host_delegates else backend.target


def plan(spec: BenchSpec) -> list[Cell]:
    """Every cell of the spec in its seeded random order; each bundle verified once."""
    bundles = []
    for name in spec.bundles:
        path = Path(name).resolve()
        bundles.append((path, verify(path), sha256_file(path / "manifest.json")))
    # A delegate a bundle was not validated for is refused before anything runs.
    cells = [Cell(path, manifest, sha, manifest.delegate(d), r)
             for path, manifest, sha in bundles for d in spec.delegates
             for r in range(spec.repeat)]
    random.Random(spec.seed).shuffle(cells)
    return cells


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def _max_temp(device: Device) -> float | None:
    temps = device.thermal_c()
    return max(temps.values()) if temps else None


class TooHot(DeviceError):
    """The device stayed over the start temperature and the spec requires a cool start."""

    def __init__(self, message: str, gate: dict):
        super().__init__(message)
        self.gate = gate


def thermal_gate(device: Device, spec: BenchSpec) -> dict:
    """Cools down, then waits (up to thermal_wait_s) for the start temperature. Returns what the
    gate saw, for the record: "ok", "timed_out_hot" (started hot) or "unknown" (no sensor).
    With require_cool a device still hot is refused (TooHot) instead."""
    time.sleep(spec.cooldown_s)
    deadline = time.monotonic() + spec.thermal_wait_s
    temp = _max_temp(device)
    while temp is not None and temp > spec.max_start_temp_c and time.monotonic() < deadline:
        time.sleep(max(min(spec.cooldown_s, deadline - time.monotonic()), 0.5))
        temp = _max_temp(device)
    gate = "unknown" if temp is None else "ok" if temp <= spec.max_start_temp_c else \
        "timed_out_hot"
    seen = {"temperature_before_c": temp, "start_temp_limit_c": spec.max_start_temp_c,
            "thermal_gate": gate}
    if gate == "timed_out_hot" and spec.require_cool:
        raise TooHot(f"{device.serial}: {temp:.1f} °C after waiting {spec.thermal_wait_s:.0f} s, "
                     f"over the {spec.max_start_temp_c:.1f} °C start limit: cell refused (let "
                     "the device cool, or raise the limit)", seen)
    return seen


def check_result(result: BenchResult, request: BenchRequest, runtime: str, source: str) -> None:
    """DeviceError unless the result is this request's and says it ran what was asked: a
    figure is never stored under a label that did not run. An error result without figures
    (the run never started) needs only its run id: its error is what the user must see."""
    pairs = [("run id", result.run_id, request.run_id)]
    if result.status == "ok" or result.times is not None:
        pairs += [("delegate", result.delegate, request.delegate),
                  ("threads", result.threads, request.threads),
                  ("driving", result.driving, request.driving)]
    if result.status == "ok":
        pairs.append(("runtime", result.runtime, runtime))
    for what, got, asked in pairs:
        if got != asked:
            raise DeviceError(f"{source}: the app reports {what} {got!r}, but {asked!r} was "
                              "requested (the bundle's manifest for the runtime): the result is "
                              "not stored under a label that did not run")


def check_frames(result: BenchResult, request: BenchRequest, source: str) -> None:
    """The captured frames the harness will read: at most as many as asked, each a plain file
    name inside this run's folder."""
    names = result.captured_frames
    if len(names) > request.capture_frames:
        raise DeviceError(f"{source}: {len(names)} captured frames, {request.capture_frames} "
                          "were asked")
    pattern = re.compile(rf"{re.escape(request.run_id)}/[A-Za-z0-9_-][A-Za-z0-9_.-]*\.png")
    for name in names:
        if not pattern.fullmatch(name):
            raise DeviceError(f"{source}: captured frame {name!r} is not a plain .png name in "
                              f"the run folder {request.run_id}/")


class _Stopped(Exception):
    """The run was interrupted (Ctrl-C); the device's worker ends its cell."""


def wait_for_result(device: Device, request: BenchRequest, timeout_s: float,
                    stop: threading.Event | None = None) -> BenchResult:
    """Polls the app's result file; an app crash in logcat ends the wait with its excerpt."""
    path = f"{RESULTS_DIR}/{request.run_id}.json"
    source = f"{device.serial}:{path}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if stop is not None and stop.is_set():
            raise _Stopped
        listing = device.shell(["run-as", APP_PACKAGE, "ls", RESULTS_DIR], check=False).out
        if f"{request.run_id}.json" in listing.split():
            data = device.read_app_bytes(APP_PACKAGE, path, max_bytes=MAX_RESULT_BYTES + 1)
            return parse_result(data, source)
        crash = dumpsys.fatal_exception(device.shell(["logcat", "-d"], check=False).out,
                                        APP_PACKAGE)
        if crash:
            raise CommandFailed(f"{device.serial}: the benchmark app crashed:\n  "
                                + "\n  ".join(crash[:6]))
        time.sleep(0.5)
    raise DeviceTimeout(f"{device.serial}: no result for {request.run_id} after "
                        f"{timeout_s:.0f} s (the benchmark hung)")


def run_cell(device: Device, spec: BenchSpec, run_id: str, cell: Cell, virtual: bool,
             stop: threading.Event | None = None) -> dict:
    manifest, bundle = cell.manifest, cell.bundle
    remote, _ = deploy(device, bundle)
    record = {"virtual": int(virtual), "model_id": manifest.model_id,
              "backend": manifest.backend, "precision": manifest.precision,
              "delegate": cell.delegate, "bundle": bundle.name, "bundle_path": str(bundle),
              "repeat": cell.repeat, "manifest_sha256": cell.manifest_sha256,
              "tools": manifest.tools}
    try:
        record.update(thermal_gate(device, spec))
    except TooHot as e:  # recorded as a refused cell; a resumed run measures it again
        return {**record, **e.gate, "status": "error", "error": str(e),
                "measured_on": "not measured"}
    request = BenchRequest(run_id=f"{run_id}-{uuid.uuid4().hex[:8]}", bundle_dir=remote,
                           delegate=cell.delegate, frames=spec.frames, warmup=spec.warmup,
                           threads=spec.threads, driving=spec.driving,
                           sustained_min=spec.sustained_min, capture_frames=spec.capture_frames)
    device.shell(["logcat", "-c"], check=False)  # a crash found later is this run's
    device.start_activity(BENCH_ACTIVITY, request.extras())
    result = wait_for_result(device, request, spec.timeout_s + spec.sustained_min * 60, stop)
    source = f"{device.serial}:{RESULTS_DIR}/{request.run_id}.json"
    check_result(result, request, manifest.runtime, source)
    check_frames(result, request, source)
    record.update(status=result.status, error=result.error, measured_on=result.measured_on,
                  threads=result.threads, driving=result.driving,
                  temperature_after_c=_max_temp(device), request=request.model_dump(),
                  result=result.model_dump())
    if virtual and result.delegate == "gpu":  # the virtual device's GPU is the software one
        from mpkit.gpu import software

        record.update(timing_note=software.TIMING_LABEL,
                      software_gpu=software.status().package_version)
    if result.times is not None:
        record.update(summarize(result.times.frame_ms), load_ms=result.times.load_ms,
                      source_stage_ms=result.times.source_stage_ms, pss_mb=result.pss_mb)
        if result.times.audio_latency_ms is not None:
            record["audio_latency"] = percentiles(result.times.audio_latency_ms)
    if result.captured_frames:
        frames = [quality.decode_png(device.read_app_bytes(
            APP_PACKAGE, f"{RESULTS_DIR}/{f}", max_bytes=MAX_FRAME_BYTES))
            for f in result.captured_frames]
        indices = [spec.warmup + k for k in range(len(frames))]
        reference = (quality.speech_reference_frames if spec.driving == "audio"
                     else quality.reference_frames)(manifest, bundle, indices)
        record["quality"] = quality.compare(frames, reference)
    return record


def _stored_spec(spec: BenchSpec, cells: list[Cell]) -> dict:
    shas = {str(c.bundle): c.manifest_sha256 for c in cells}
    return {**asdict(spec), "manifest_sha256": dict(sorted(shas.items()))}


def _check_resume(run_id: str, stored: dict, wanted: dict) -> None:
    changed = sorted(k for k in {*stored, *wanted} - set(RESUME_IGNORES)
                     if stored.get(k) != wanted.get(k))
    if changed:
        diff = "; ".join(f"{k}: {stored.get(k)!r} then, {wanted.get(k)!r} now" for k in changed)
        raise UsageError(f"run {run_id} was started with another spec ({diff}): resume it with "
                         "the same settings and bundles, or start a new run")


def run_bench(spec: BenchSpec, devices: list[Device], store: Store, run_id: str | None = None,
              progress: Callable[[str], None] = lambda message: None) -> str:
    """Runs every cell on every device; returns the run id (pass it again to resume). The first
    progress message names the run id. On Ctrl-C (KeyboardInterrupt) the benchmarks are stopped
    on the devices, finished records are kept, and KeyboardInterrupt is raised again."""
    spec.check()
    if not devices:
        raise DeviceError("no device to benchmark on: attach a phone or start a virtual device "
                          "(`mpkit vdevice start`)")
    cells = plan(spec)
    run_id = run_id or new_run_id()
    wanted = _stored_spec(spec, cells)
    stored = store.run_spec(run_id)
    if stored is not None:
        _check_resume(run_id, stored, wanted)
    store.create_run(run_id, wanted)
    progress(f"run {run_id} (resume with --resume {run_id})")
    errors: list[tuple[str, BaseException]] = []
    stop = threading.Event()

    def worker(device: Device) -> None:
        try:
            info = device.info()
            done = store.done_cells(run_id, device.serial)
            for cell in cells:
                if stop.is_set():
                    return
                if cell.key in done:
                    progress(f"{device.serial}: {cell.key} already done")
                    continue
                progress(f"{device.serial}: {cell.key}")
                record = run_cell(device, spec, run_id, cell, info.virtual, stop)
                record["device"] = info.as_dict()
                store.insert(run_id, cell.key, device.serial, record)
        except _Stopped:
            pass
        except BaseException as e:  # reported after every worker has finished
            errors.append((device.serial, e))

    threads = [threading.Thread(target=worker, args=(d,)) for d in devices]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.2)  # wakes up for Ctrl-C
    except KeyboardInterrupt:
        stop.set()
        for d in devices:
            try:
                d.shell(["am", "force-stop", APP_PACKAGE], timeout=10, check=False)
            except DeviceError as e:
                progress(f"{d.serial}: could not stop the benchmark ({e})")
        for t in threads:
            t.join()
        raise
    if errors:
        serial, first = errors[0]
        more = f" ({len(errors) - 1} other device(s) failed too)" if len(errors) > 1 else ""
        hint = f"{more} (finished records are kept; resume with --resume {run_id})"
        if isinstance(first, MpkitError):
            raise type(first)(f"{first}{hint}") from first
        raise DeviceError(f"{serial}: {type(first).__name__}: {first}{hint}") from first
    return run_id
