"""The harness against what a device reports, through a real adb server: a result that did not
run what was asked, frames it was not asked for, someone else's crash, a hot start, a
sustained run longer than the timeout, Ctrl-C, resume with another spec."""

import _thread
import json
import shutil
import signal
import threading
from pathlib import Path

import pytest

from mpkit.bench.protocol import APP_PACKAGE, RESULTS_DIR, BenchRequest
from mpkit.bench.runner import BenchSpec, run_bench
from mpkit.bench.store import Store
from mpkit.device.errors import DeviceTimeout
from mpkit.errors import DeviceError, UsageError
from mpkit.vdevice import host_state

FAST = dict(frames=8, warmup=2, cooldown_s=0, timeout_s=120)
GOLDEN = Path(__file__).resolve().parents[1] / "testdata" / "protocol" / "result_ok.json"


def _fake_app(vdev, monkeypatch, answer):
    """The benchmark activity replaced by an app that writes `answer(request)` as its result
    (None: writes nothing); returns the requests it received."""
    requests = []

    def launch(extras):
        request = BenchRequest(**extras)
        requests.append(request)
        body = answer(request)
        if body is not None:
            vdev.write(f"/data/data/{APP_PACKAGE}/{RESULTS_DIR}/{request.run_id}.json",
                       json.dumps(body).encode())

    monkeypatch.setattr(vdev, "launch_benchmark", launch)
    return requests


def _honest(request: BenchRequest, **changes) -> dict:
    return {**json.loads(GOLDEN.read_text()), "run_id": request.run_id,
            "delegate": request.delegate, "threads": request.threads,
            "driving": request.driving, "captured_frames": [], **changes}


@pytest.mark.virtual_only
def test_a_result_from_another_delegate_is_rejected(app, bundle, tmp_path, fleet, monkeypatch):
    _fake_app(fleet.running[0].device, monkeypatch,
              lambda r: _honest(r, delegate="xnnpack"))
    store = Store(tmp_path / "r.sqlite")
    with pytest.raises(DeviceError, match="delegate 'xnnpack', but 'cpu' was requested"):
        run_bench(BenchSpec(bundles=[str(bundle)], **FAST), [app], store, "wrong-delegate")
    assert store.records(["wrong-delegate"]) == []


@pytest.mark.virtual_only
def test_the_default_delegate_is_the_bundle_backends(app, bundle, tmp_path, fleet, monkeypatch):
    requests = _fake_app(fleet.running[0].device, monkeypatch, _honest)
    store = Store(tmp_path / "r.sqlite")
    run_id = run_bench(BenchSpec(bundles=[str(bundle)], **FAST), [app], store)
    assert [r.delegate for r in requests] == ["cpu"]  # tflite's host delegate
    (record,) = store.records([run_id])
    assert (record["delegate"], record["threads"], record["driving"]) == ("cpu", 2, "video")


@pytest.mark.virtual_only
@pytest.mark.parametrize("frames, message", [
    (lambda r: [f"{r.run_id}/frame_{i:04d}.png" for i in range(3)], "3 captured frames, 1 were"),
    (lambda r: ["../../../../../etc/hostname"], "not a plain .png name"),
])
def test_captured_frames_beyond_the_request_are_refused(app, bundle, tmp_path, fleet,
                                                        monkeypatch, frames, message):
    _fake_app(fleet.running[0].device, monkeypatch,
              lambda r: _honest(r, captured_frames=frames(r)))
    with pytest.raises(DeviceError, match=message):
        run_bench(BenchSpec(bundles=[str(bundle)], capture_frames=1, **FAST), [app],
                  Store(tmp_path / "r.sqlite"))


@pytest.mark.virtual_only
def test_an_oversized_captured_frame_is_not_read_in_full(app, bundle, tmp_path, fleet,
                                                         monkeypatch):
    vdev = fleet.running[0].device

    def huge_frame(request):
        name = f"{request.run_id}/frame_0000.png"
        vdev.write(f"/data/data/{APP_PACKAGE}/{RESULTS_DIR}/{name}", b"\x89PNG" + bytes(17 << 20))
        return _honest(request, captured_frames=[name])

    _fake_app(vdev, monkeypatch, huge_frame)
    with pytest.raises(DeviceError, match="returned more than 16777216 bytes"):
        run_bench(BenchSpec(bundles=[str(bundle)], capture_frames=1, **FAST), [app],
                  Store(tmp_path / "r.sqlite"))


@pytest.mark.virtual_only
def test_another_process_crashing_is_not_the_app_crashing(app, bundle, tmp_path, fleet,
                                                          monkeypatch):
    vdev = fleet.running[0].device

    def other_crash(request):
        vdev.log(f"I ActivityManager: Start proc 4242:{APP_PACKAGE}/u0a100\n"
                 "E AndroidRuntime: FATAL EXCEPTION: main\n"
                 "E AndroidRuntime: Process: com.android.systemui, PID: 777\n"
                 "E AndroidRuntime: java.lang.NullPointerException")

    _fake_app(vdev, monkeypatch, other_crash)
    spec = BenchSpec(bundles=[str(bundle)], **{**FAST, "timeout_s": 3})
    with pytest.raises(DeviceTimeout, match="no result"):
        run_bench(spec, [app], Store(tmp_path / "r.sqlite"))


@pytest.mark.virtual_only
def test_the_thermal_gate_is_recorded_and_can_refuse(app, bundle, tmp_path, fleet, monkeypatch):
    _fake_app(fleet.running[0].device, monkeypatch, _honest)
    store = Store(tmp_path / "r.sqlite")
    monkeypatch.setattr(host_state, "thermal_zones", lambda: [])
    unknown = run_bench(BenchSpec(bundles=[str(bundle)], **FAST), [app], store)
    monkeypatch.setattr(host_state, "thermal_zones", lambda: [("cpu-0", 71.5)])
    spec = BenchSpec(bundles=[str(bundle)], max_start_temp_c=45, thermal_wait_s=1, **FAST)
    hot = run_bench(spec, [app], store)
    refused = run_bench(BenchSpec(**{**spec.__dict__, "require_cool": True}), [app], store)
    (r_unknown,), (r_hot,), (r_refused,) = (store.records([i]) for i in (unknown, hot, refused))
    assert (r_unknown["thermal_gate"], r_unknown["temperature_before_c"]) == ("unknown", None)
    assert r_hot["status"] == "ok" and r_hot["thermal_gate"] == "timed_out_hot"
    assert (r_hot["temperature_before_c"], r_hot["start_temp_limit_c"]) == (71.5, 45)
    assert r_refused["status"] == "error" and "result" not in r_refused
    assert "71.5 °C" in r_refused["error"] and "start limit: cell refused" in r_refused["error"]


@pytest.mark.virtual_only
def test_bundles_with_the_same_folder_name_are_separate_cells(app, bundle, tmp_path, fleet,
                                                              monkeypatch):
    _fake_app(fleet.running[0].device, monkeypatch, _honest)
    copies = [shutil.copytree(bundle, tmp_path / side / bundle.name) for side in ("a", "b")]
    store = Store(tmp_path / "r.sqlite")
    run_id = run_bench(BenchSpec(bundles=[str(c) for c in copies], **FAST), [app], store)
    assert sorted(r["bundle_path"] for r in store.records([run_id])) == \
        sorted(str(c) for c in copies)


@pytest.mark.virtual_only
def test_resume_refuses_a_changed_spec(app, bundle, tmp_path, fleet, monkeypatch):
    requests = _fake_app(fleet.running[0].device, monkeypatch, _honest)
    store = Store(tmp_path / "r.sqlite")
    run_bench(BenchSpec(bundles=[str(bundle)], **FAST), [app], store, "resumable")
    with pytest.raises(UsageError, match="another spec .*frames: 8 then, 16 now"):
        run_bench(BenchSpec(bundles=[str(bundle)], **{**FAST, "frames": 16}), [app], store,
                  "resumable")
    assert len(requests) == 1 and len(store.records(["resumable"])) == 1


@pytest.mark.virtual_only
def test_ctrl_c_stops_the_benchmark_and_keeps_finished_cells(app, bundle, tmp_path, fleet,
                                                             monkeypatch):
    vdev = fleet.running[0].device
    original, started = vdev.launch_benchmark, []

    def launch(extras):
        original(extras)
        started.append(vdev.workers[-1])
        if len(started) == 2:  # the user presses Ctrl-C while the second cell runs
            threading.Timer(0.5, _thread.interrupt_main).start()

    monkeypatch.setattr(vdev, "launch_benchmark", launch)
    store, messages = Store(tmp_path / "r.sqlite"), []
    spec = BenchSpec(bundles=[str(bundle)], repeat=2, **FAST)
    # Ctrl-C as in a terminal: a process started in the background inherits SIGINT ignored,
    # and then interrupt_main() does nothing.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_bench(spec, [app], store, "interrupted", progress=messages.append)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert "run interrupted" in messages[0]
    assert [r["status"] for r in store.records(["interrupted"])] == ["ok"]
    assert len(started) == 2 and started[1].poll() is not None  # force-stopped, not left running


def test_a_sustained_run_longer_than_the_timeout_finishes(app, bundle, tmp_path):
    store = Store(tmp_path / "r.sqlite")
    spec = BenchSpec(bundles=[str(bundle)], frames=4, warmup=1, cooldown_s=0, timeout_s=20,
                     sustained_min=0.5)  # 30 s of load, 20 s of patience beyond it
    (record,) = store.records([run_bench(spec, [app], store)])
    assert record["status"] == "ok", record["error"]
    assert record["result"]["sustained"][-1]["minute"] > 0.4
