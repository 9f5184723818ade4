"""The harness's checks on what a device reports, on the golden protocol fixtures."""

import json
from pathlib import Path

import pytest

from mpkit.bench.protocol import BenchRequest, parse_result
from mpkit.bench.runner import BenchSpec, check_frames, check_result, run_bench
from mpkit.bench.store import Store
from mpkit.device.dumpsys import fatal_exception
from mpkit.errors import DeviceError, UsageError

TESTDATA = Path(__file__).resolve().parents[2] / "testdata" / "protocol"


def _request(**changes) -> BenchRequest:
    return BenchRequest(**{**json.loads((TESTDATA / "request.json").read_text()), **changes})


def _result(**changes):
    data = {**json.loads((TESTDATA / "result_ok.json").read_text()), **changes}
    return parse_result(json.dumps(data), "dev:r.json")


def test_a_result_that_ran_what_was_asked_passes():
    check_result(_result(), _request(), "litert", "dev:r.json")
    check_frames(_result(), _request(), "dev:r.json")


@pytest.mark.parametrize("request_changes, result_changes, runtime, message", [
    ({"delegate": "cpu"}, {}, "litert", "delegate 'gpu', but 'cpu' was requested"),
    ({"threads": 4}, {}, "litert", "threads 2, but 4 was requested"),
    ({"driving": "audio"}, {}, "litert", "driving 'video', but 'audio' was requested"),
    ({}, {"run_id": "golden-run-0"}, "litert", "run id 'golden-run-0', but 'golden-run-1'"),
    ({}, {}, "executorch", "runtime 'litert', but 'executorch' was requested"),
])
def test_a_result_that_ran_something_else_is_rejected(request_changes, result_changes, runtime,
                                                      message):
    with pytest.raises(DeviceError, match=message):
        check_result(_result(**result_changes), _request(**request_changes), runtime, "dev:r.json")


def test_an_error_before_the_run_started_keeps_its_own_message():
    # the app could not read the request's labels (here: a bad extra), so it reports them unknown
    refused = _result(status="error", error="extra frames: 0 is below the minimum 1", times=None,
                      delegate="unknown", threads=0, driving="unknown", runtime="unknown",
                      pss_mb=None, sustained=[], captured_frames=[])
    check_result(refused, _request(), "litert", "dev:r.json")
    with pytest.raises(DeviceError, match="run id 'other'"):
        check_result(_result(**{**refused.model_dump(), "run_id": "other"}), _request(),
                     "litert", "dev:r.json")
    with pytest.raises(DeviceError, match="delegate 'unknown'"):  # figures need true labels
        check_result(_result(status="error", error="synthesis failed", delegate="unknown"),
                     _request(), "litert", "dev:r.json")


@pytest.mark.parametrize("frames, message", [
    (["golden-run-1/frame_0000.png"] * 3, "3 captured frames, 2 were asked"),
    (["golden-run-1/../../../etc/passwd.png"], "not a plain .png name"),
    (["/etc/frame.png"], "not a plain .png name"),
    (["other-run/frame.png"], "not a plain .png name"),
    (["golden-run-1/frame.txt"], "not a plain .png name"),
])
def test_captured_frames_are_capped_and_confined(frames, message):
    with pytest.raises(DeviceError, match=message):
        check_frames(_result(captured_frames=frames), _request(), "dev:r.json")


def test_crash_is_the_crashing_process_not_any_mention_of_the_app():
    other = ("12-01 20:00:00.000  1000  1000 I ActivityManager: Start proc 4242:org.mpkit.bench\n"
             "12-01 20:00:01.000  5555  5555 E AndroidRuntime: FATAL EXCEPTION: main\n"
             "12-01 20:00:01.000  5555  5555 E AndroidRuntime: Process: com.other.app, PID: 5555\n"
             "12-01 20:00:01.000  5555  5555 E AndroidRuntime: java.lang.NullPointerException\n")
    assert fatal_exception(other, "org.mpkit.bench") is None
    ours = other + ("12-01 20:00:02.000  4242  4242 E AndroidRuntime: FATAL EXCEPTION: bench\n"
                    "12-01 20:00:02.000  4242  4242 E AndroidRuntime: Process: org.mpkit.bench,"
                    " PID: 4242\n"
                    "12-01 20:00:02.000  4242  4242 E AndroidRuntime: java.lang.OutOfMemoryError\n"
                    "12-01 20:00:02.100  1000  1000 I ActivityManager: Process died\n")
    block = fatal_exception(ours, "org.mpkit.bench")
    assert len(block) == 3 and "OutOfMemoryError" in block[-1]


@pytest.mark.parametrize("changes, message", [
    ({"frames": 0}, "got 0, need frames >= 1"),
    ({"capture_frames": 9, "frames": 8}, "need capture between 0 and frames"),
    ({"delegates": ["tpu"]}, "need delegate one of"),
    ({"bundles": []}, "at least one bundle"),
])
def test_a_spec_no_benchmark_can_run_is_refused_up_front(tmp_path, changes, message):
    spec = BenchSpec(**{"bundles": [str(tmp_path)], **changes})
    with pytest.raises(UsageError, match=message):
        run_bench(spec, [], Store(tmp_path / "r.sqlite"))


def test_no_device_is_a_device_error(tmp_path):
    with pytest.raises(DeviceError, match="no device to benchmark on"):
        run_bench(BenchSpec(bundles=[str(tmp_path)]), [], Store(tmp_path / "r.sqlite"))
