"""Start, stop and inspect the background virtual-device daemon."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from mpkit.errors import DeviceError
from mpkit.media.assets import cache_dir


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
    path = state_file()
    if not path.is_file():
        return None
    state = json.loads(path.read_text())
    try:
        os.kill(state["pid"], 0)
    except ProcessLookupError:
        path.unlink(missing_ok=True)
        return None
    return state


def start(count: int, adb: str | None = None, timeout_s: float = 30) -> dict:
    if (running := status()) is not None:
        raise DeviceError(f"virtual devices already running (adb port {running['adb_port']}); "
                          "`mpkit vdevice stop` first")
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    log = open(path.with_name("daemon.log"), "w")
    proc = subprocess.Popen([sys.executable, "-m", "mpkit.vdevice.daemon", "--count", str(count),
                             "--adb", adb or bundled_adb(), "--state", str(path)],
                            stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if (state := status()) is not None:
            return state
        if proc.poll() is not None:
            raise DeviceError(f"virtual devices failed to start: see {path.with_name('daemon.log')}")
        time.sleep(0.1)
    proc.kill()
    raise DeviceError("virtual devices did not come up within "
                      f"{timeout_s:.0f} s: see {path.with_name('daemon.log')}")


def stop(timeout_s: float = 20) -> bool:
    state = status()
    if state is None:
        return False
    os.kill(state["pid"], signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and status() is not None:
        time.sleep(0.1)
    return True
