"""`mpkit vdevice start` runs this in the background: virtual devices, a private adb server on
its own port, `adb connect` to each device; state in a JSON file (with what identifies this very
process); SIGTERM tears it all down: benchmark workers, the adb server, the temp folder."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from mpkit.media.files import atomic_output
from mpkit.vdevice import app, auth
from mpkit.vdevice.process import start_time
from mpkit.vdevice.server import DeviceHost


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def adb_env(port: int, home: Path) -> dict[str, str]:
    """Environment for a quiet private adb server: no USB, no mDNS, no emulator scan."""
    return {**os.environ, "HOME": str(home), "ADB_LIBUSB": "0", "ADB_MDNS": "0",
            "ADB_LOCAL_TRANSPORT_MAX_PORT": "5554", "ANDROID_ADB_SERVER_PORT": str(port)}


class AdbServer:
    """A real adb server (`adb -P PORT nodaemon server`) owned by this process; `listen_all`
    (adb -a) serves other hosts too, as a lab machine with phones does."""

    def __init__(self, adb: str, home: Path, port: int | None = None, listen_all: bool = False):
        self.adb, self.port = adb, port or free_port()
        self.env = adb_env(self.port, home)
        self.key = home / ".android" / "adbkey.pub"  # adb creates it at start when missing
        flags = ["-a"] if listen_all else []
        self.proc = subprocess.Popen([adb, *flags, "-P", str(self.port), "nodaemon", "server"],
                                     env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self._wait_ready()

    def _wait_ready(self, timeout_s: float = 15) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"000chost:version")
                    if s.recv(4) == b"OKAY" and self.key.is_file():
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"adb server on port {self.port} did not start")

    def run(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run([self.adb, "-P", str(self.port), *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def connect(self, serial: str) -> None:
        result = self.run("connect", serial)
        if "connected" not in result.stdout:
            raise RuntimeError(f"adb connect {serial}: {result.stdout} {result.stderr}")
        self.run("-s", serial, "wait-for-device", timeout=20)

    def stop(self) -> None:
        self.run("kill-server", timeout=10)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


class Fleet:
    """Devices + the adb server that sees them (used by the daemon and by test fixtures)."""

    def __init__(self, count: int, adb: str, root: Path | None = None):
        app.core_classpath()  # the benchmark app is built before any device comes up
        self.own_root = root is None
        self.root = root or Path(tempfile.mkdtemp(prefix="mpkit-vdevice-"))
        self.host = DeviceHost(self.root)
        self.running = self.host.start(count)
        self.server = AdbServer(adb, self.root)
        # The user accepted this computer's adb key on every virtual phone.
        self.host.trust(auth.load_keys(self.server.key))
        for run in self.running:
            self.server.connect(run.device.serial)

    @property
    def serials(self) -> list[str]:
        return [r.device.serial for r in self.running]

    def device(self, serial: str):
        return next(r.device for r in self.running if r.device.serial == serial)

    def stop(self) -> None:
        for serial in self.serials:
            self.server.run("disconnect", serial, timeout=10)
        self.server.stop()
        self.host.stop()
        if self.own_root:
            shutil.rmtree(self.root, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--adb", required=True)
    p.add_argument("--state", required=True, type=Path)
    p.add_argument("--token", required=True, help="names this daemon in its command line")
    args = p.parse_args()
    fleet = Fleet(args.count, args.adb)
    with atomic_output(args.state) as tmp:
        tmp.write_text(json.dumps({"pid": os.getpid(), "start_time": start_time(os.getpid()),
                                   "token": args.token, "adb": args.adb,
                                   "adb_port": fleet.server.port, "serials": fleet.serials,
                                   "root": str(fleet.root), "virtual": True}))
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    fleet.stop()
    args.state.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
