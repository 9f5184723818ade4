"""The virtual device's benchmark app (the Kotlin core on the host JVM) runs what it is asked or
refuses, says what really ran, reports the app's measured memory, and stops on `am force-stop`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mpkit.bench.protocol import APP_PACKAGE, BENCH_ACTIVITY, BenchRequest
from mpkit.device.deploy import deploy
from mpkit.errors import MpkitError
from mpkit.export.backends import get_backend
from mpkit.gpu import software
from mpkit.vdevice import app as vapp
from mpkit.vdevice.host_state import app_pss_kb


def _worker(bundle, tmp_path, env=None, **fields) -> dict:
    """Runs the app as the virtual device does and returns its result JSON."""
    request = BenchRequest(run_id=f"r{len(os.listdir(tmp_path))}", bundle_dir="unused",
                           **{"frames": 2, "warmup": 0, **fields})
    result = vapp.run(request, bundle, tmp_path, env=env)
    assert result["run_id"] == request.run_id
    return result


def test_gpu_outside_a_process_made_for_it_is_refused_not_faked(bundle, tmp_path):
    """Without the driver in its environment LiteRT would quietly run on the CPU."""
    result = _worker(bundle, tmp_path, env={k: v for k, v in os.environ.items()
                                            if k != "VK_ICD_FILENAMES"}, delegate="gpu")
    assert result["status"] == "error" and result.get("times") is None
    assert "runs only in a process started with" in result["error"]


def test_gpu_runs_the_real_accelerator_in_the_app_process(bundle, tmp_path):
    result = _worker(bundle, tmp_path, env=software.child_env(), delegate="gpu", frames=1)
    assert result["status"] == "ok", result.get("error")
    assert (result["delegate"], result["runtime"]) == ("gpu", "litert")
    assert len(result["times"]["frame_ms"]) == 1


def test_a_delegate_the_backend_cannot_run_is_refused_with_the_list(bundle, tmp_path):
    result = _worker(bundle, tmp_path, delegate="nnapi")
    assert result["status"] == "error" and result.get("times") is None
    assert "'nnapi'" in result["error"] and "supports: cpu, gpu" in result["error"]


def test_what_ran_is_reported_and_threads_are_honoured(bundle, tmp_path):
    result = _worker(bundle, tmp_path, delegate="cpu", threads=3)
    assert result["status"] == "ok", result.get("error")
    assert (result["delegate"], result["threads"], result["driving"], result["runtime"]) == \
        ("cpu", 3, "video", "litert")
    assert len(result["times"]["frame_ms"]) == 2


@pytest.mark.parametrize("mode, message", [
    ("audio", "driving 'audio' needs an audio component, and this mp-tiny bundle has none: "
              "export it with mpkit export --audio"),
    ("synthetic", "use driving 'video'")])
def test_driving_that_cannot_run_is_refused(bundle, tmp_path, mode, message):
    result = _worker(bundle, tmp_path, driving=mode)
    assert result["status"] == "error" and message in result["error"]


THREADS_STARTED = """
import os, sys
from pathlib import Path
import numpy as np
from mpkit.export.backends import get_backend
from mpkit.gpu import software
from mpkit.export.bundle import verify
bundle, threads = Path(sys.argv[1]), int(sys.argv[2])
entry = verify(bundle).components[0]
before = len(os.listdir("/proc/self/task"))
run = get_backend("tflite").host_runner(bundle / entry.file, threads=threads)
run(*[np.zeros(io.shape, np.float32) for io in entry.inputs])
print(len(os.listdir("/proc/self/task")) - before)
"""


@pytest.mark.parametrize("threads", [1, 4])
def test_litert_runner_starts_the_threads_asked(bundle, threads):
    out = subprocess.run([sys.executable, "-c", THREADS_STARTED, str(bundle), str(threads)],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    assert int(out.split()[-1]) == threads - 1  # XNNPACK's pool: the caller + threads - 1


def test_executorch_threadpool_follows_threads():
    from executorch.extension.pybindings import portable_lib

    from mpkit.export.backends.executorch import set_threadpool

    set_threadpool(3)
    assert portable_lib._threadpool_get_thread_count() == 3
    with pytest.raises(MpkitError, match="executorch-xnnpack cannot run delegate 'gpu'.*xnnpack"):
        get_backend("executorch-xnnpack").host_runner(Path("never-loaded.pte"), delegate="gpu")
    assert get_backend("executorch-vulkan").host_delegates == ()


def test_meminfo_is_the_benchmark_process_and_force_stop_ends_it(app, bundle):
    assert "No process found" in app.shell(["dumpsys", "meminfo", APP_PACKAGE]).out
    assert app.pss_mb(APP_PACKAGE) is None
    remote, _ = deploy(app, bundle)
    request = BenchRequest(run_id="meminfo", bundle_dir=remote, frames=1, sustained_min=2)
    app.start_activity(BENCH_ACTIVITY, request.extras())
    deadline, measured = time.monotonic() + 60, None
    while time.monotonic() < deadline and (measured or 0) < 50:
        time.sleep(0.5)
        measured = app.pss_mb(APP_PACKAGE)
    assert measured is not None and measured > 50  # the app with its runtimes loaded
    app.shell(["am", "force-stop", APP_PACKAGE])
    assert app.pss_mb(APP_PACKAGE) is None


@pytest.mark.virtual_only
def test_meminfo_measures_the_benchmark_process_itself(app, vdev, bundle):
    remote, _ = deploy(app, bundle)
    request = BenchRequest(run_id="meminfo-pid", bundle_dir=remote, frames=1, sustained_min=2)
    app.start_activity(BENCH_ACTIVITY, request.extras())
    pid = vdev.app_pid()
    assert pid is not None and pid != os.getpid()
    time.sleep(3)  # the app is loading its runtimes: its memory grows between readings
    before = app_pss_kb(pid)
    reported = app.pss_mb(APP_PACKAGE) * 1024
    after = app_pss_kb(pid)
    assert 0.9 * min(before, after) <= reported <= 1.1 * max(before, after)
    app.shell(["am", "force-stop", APP_PACKAGE])
    assert vdev.app_pid() is None and not os.path.exists(f"/proc/{pid}")


def test_the_app_loads_its_face_models_from_the_bundle(bundle, tmp_path, monkeypatch):
    monkeypatch.setenv("MPKIT_CACHE_DIR", str(tmp_path / "empty-cache"))  # no host assets
    (tmp_path / "results").mkdir()
    result = _worker(bundle, tmp_path / "results")
    assert result["status"] == "ok", result.get("error")
