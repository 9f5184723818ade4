"""`mpkit vdevice start/stop`: no code from the user's folder runs, only our own daemon is ever
signalled, and stop leaves no worker, adb server or temp folder behind."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from mpkit.bench.protocol import BENCH_ACTIVITY, BenchRequest
from mpkit.device import adb as device_lib
from mpkit.device.deploy import deploy
from mpkit.vdevice import control
from mpkit.vdevice.device import VirtualDevice
from mpkit.vdevice.process import module_command, start_time


def _processes(text: str) -> list[int]:
    """PIDs whose command line contains `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture()
def private_cache(tmp_path, monkeypatch):
    """A cache folder of this test's own, so the user's running devices are never touched."""
    monkeypatch.setenv("MPKIT_CACHE_DIR", str(tmp_path / "cache"))
    yield tmp_path / "cache"
    control.stop()


@pytest.fixture()
def hostile_cwd(tmp_path, monkeypatch):
    """A working folder whose argparse.py would leave a marker if it were ever imported."""
    folder = tmp_path / "cwd"
    folder.mkdir()
    marker = tmp_path / "argparse-ran"
    (folder / "argparse.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    monkeypatch.chdir(folder)
    return marker


def test_daemon_app_and_bridge_ignore_code_in_the_working_folder(private_cache, hostile_cwd,
                                                                 tmp_path):
    control.start(1)
    subprocess.run(module_command("mpkit.vdevice.tensor_bridge"), check=True, input=b"",
                   capture_output=True, timeout=120)
    device = VirtualDevice(tmp_path / "vdev", serial="test")
    device.launch_benchmark({"run_id": "cwd", "bundle_dir": "/data/local/tmp/none"})
    assert device.workers[0].wait(120) == 0  # the app reports the missing bundle itself
    result = json.loads(next((tmp_path / "vdev").rglob("cwd.json")).read_text())
    assert result["status"] == "error" and "not a bundle" in result["error"]
    assert not hostile_cwd.exists()


def test_stop_never_signals_a_process_that_is_not_our_daemon(private_cache):
    stranger = subprocess.Popen(["sleep", "1000"])
    try:
        control.state_file().parent.mkdir(parents=True)
        for state in ({"pid": stranger.pid, "adb_port": 1},  # older state file, PID reused
                      {"pid": stranger.pid, "start_time": start_time(stranger.pid),
                       "token": "not-in-its-command-line", "adb_port": 1}):
            control.state_file().write_text(json.dumps(state))
            assert control.stop() is False and control.status() is None
            assert stranger.poll() is None and not control.state_file().exists()
    finally:
        stranger.kill()
        stranger.wait()


def test_stop_ends_workers_adb_server_and_temp_folders(private_cache, bundle):
    state = control.start(1)
    (serial,) = state["serials"]
    app = device_lib.connect(serial, f"127.0.0.1:{state['adb_port']}")
    remote, _ = deploy(app, bundle)
    app.start_activity(BENCH_ACTIVITY, BenchRequest(run_id="long", bundle_dir=remote, frames=1,
                                                    sustained_min=5).extras())
    deadline, workers = time.monotonic() + 90, []  # a loaded machine starts slowly
    while time.monotonic() < deadline and len(workers) < 2:
        time.sleep(0.2)
        # The app's JVM (its command names the device's folder) and its tensor bridge.
        apps = set(_processes("org.mpkit.core.HostBenchmarkKt")) & set(
            _processes(state["root"] + "/"))
        workers = [*apps, *(p for p in _processes("mpkit.vdevice.tensor_bridge")
                            if _parent(p) in apps)]
    assert len(workers) == 2, "the benchmark did not start"
    adb_servers = _processes(f"-P\0{state['adb_port']}\0nodaemon")
    assert adb_servers
    assert control.stop() is True
    for pid in [state["pid"], *workers, *adb_servers]:
        assert not _alive(pid), f"process {pid} outlived vdevice stop"
    assert not Path(state["root"]).exists() and control.status() is None
