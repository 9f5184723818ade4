"""Start, stop and inspect the background virtual-device daemon."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path

from mpkit.errors import DeviceError
from mpkit.media.assets import cache_dir
from mpkit.vdevice import app
from mpkit.vdevice.process import is_ours, kill_group, module_command


def state_file() -> Path:
    return cache_dir() / "vdevice" / "state.json"


def bundled_adb() -> str:
    """The adb binary the adbutils wheel ships (adb 36); $MPKIT_ADB overrides it."""
    if os.environ.get("MPKIT_ADB"):
        return os.environ["MPKIT_ADB"]
    import adbutils

    path = Path(adbutils.__file__).parent / "binaries" / "adb"
    if not path.is_file():
        found = shutil.which("adb")
        if not found:
            raise DeviceError("no adb binary: install adbutils or Debian's adb, or set MPKIT_ADB")
        return found
    return str(path)


def status() -> dict | None:
    """The running daemon's state, or None. A state file whose PID is gone or now belongs to
    another process (same PID, other command line or start time) is stale and removed."""
    path = state_file()
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text())
        alive = is_ours(state["pid"], state.get("start_time"), state["token"])
    except (ValueError, KeyError, TypeError):
        alive = False
    if not alive:
        path.unlink(missing_ok=True)
        return None
    return state


def start(count: int, adb: str | None = None, timeout_s: float = 30) -> dict:
    if (running := status()) is not None:
        raise DeviceError(f"virtual devices already running (adb port {running['adb_port']}); "
                          "`mpkit vdevice stop` first")
    app.core_classpath()  # a first build takes minutes: here, not inside the daemon's start
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    log_path = path.with_name("daemon.log")
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            module_command("mpkit.vdevice.daemon", "--count", str(count), "--adb",
                           adb or bundled_adb(), "--state", str(path),
                           "--token", secrets.token_hex(8)),
            stdout=log, stderr=log, cwd=path.parent, start_new_session=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if (state := status()) is not None:
            return state
        if proc.poll() is not None:
            raise DeviceError(f"virtual devices failed to start: see {log_path}")
        time.sleep(0.1)
    kill_group(proc.pid)
    raise DeviceError(f"virtual devices did not come up within {timeout_s:.0f} s: see {log_path}")


def stop(timeout_s: float = 20) -> bool:
    """Stops the daemon we started (never another process that reuses its PID): it ends the
    benchmark workers, its adb server and its temp folder; if it hangs, its whole process group
    is killed and the folder removed here."""
    state = status()
    if state is None:
        return False
    os.kill(state["pid"], signal.SIGTERM)

    def ours() -> bool:
        return is_ours(state["pid"], state["start_time"], state["token"])

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and ours():
        time.sleep(0.1)
    if ours():
        kill_group(state["pid"])
        shutil.rmtree(state["root"], ignore_errors=True)
    state_file().unlink(missing_ok=True)
    return True
