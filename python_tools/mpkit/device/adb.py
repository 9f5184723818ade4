"""The Device layer over adbutils, talking to a real adb server (local, private or remote).

Every argument that reaches the device shell is quoted (shlex.quote). Only idempotent
operations are retried. Shell, push and pull speak the adb wire protocol here with one deadline
per operation (retries included): a device that trickles bytes or stalls still times out.
"""

from __future__ import annotations

import os
import socket
import shlex
import stat
import struct
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

import adbutils
from adbutils.errors import AdbError

from mpkit.device import dumpsys
from mpkit.device.errors import (
    CommandFailed, DeviceTimeout, InstallFailed, LinkLost, MultipleDevices, NoDevice, Offline,
    OutputTooLarge, StorageFull, Unauthorized,
)
from mpkit.errors import UsageError
from mpkit.media.files import atomic_output

DEFAULT_TIMEOUT_S = 60.0
MIN_RATE_BYTES_S = 1_000_000  # a push or pull slower than this (USB 2 does ~30 MB/s) has stalled
MAX_SHELL_BYTES = 64 * 1024 * 1024  # output a shell command may return
SYNC_DATA_MAX = 64 * 1024
RETRIES, RETRY_DELAY_S = 3, 0.3
T = TypeVar("T")


@dataclass(frozen=True)
class ShellResult:
    rc: int
    out: str
    err: str


@dataclass(frozen=True)
class DeviceInfo:
    serial: str
    model: str
    manufacturer: str
    soc: str
    abi: str
    android: str
    sdk: str
    fingerprint: str
    gpu: str
    free_storage_mb: float | None
    virtual: bool

    def as_dict(self) -> dict:
        return asdict(self)


def quote(args: list[str] | tuple[str, ...]) -> str:
    return " ".join(shlex.quote(str(a)) for a in args)


class _Deadline:
    """The end of one operation; every socket wait gets only the time that is left."""

    def __init__(self, timeout: float):
        self.timeout, self.end = timeout, time.monotonic() + timeout

    def left(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left


def _recv(c: adbutils.AdbConnection, n: int, deadline: _Deadline) -> bytes:
    c.conn.settimeout(deadline.left())
    return c.conn.recv(n)


def _recv_exact(c: adbutils.AdbConnection, n: int, deadline: _Deadline) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = _recv(c, n - len(buf), deadline)
        if not chunk:
            raise EOFError(f"the connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def _send(c: adbutils.AdbConnection, data: bytes, deadline: _Deadline) -> None:
    c.conn.settimeout(deadline.left())
    c.conn.sendall(data)


def client(adb: str | None = None) -> adbutils.AdbClient:
    """An adbutils client for `HOST:PORT` (default: $ANDROID_ADB_SERVER_PORT or 5037)."""
    addr = adb or f"127.0.0.1:{os.environ.get('ANDROID_ADB_SERVER_PORT', '5037')}"
    host, _, port = addr.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"adb server address {addr!r} is not HOST:PORT (e.g. 127.0.0.1:5037)")
    return adbutils.AdbClient(host=host or "127.0.0.1", port=int(port))


def _reachable(c: adbutils.AdbClient) -> bool:
    """A plain connect first: on a refused connection adbutils runs `adb start-server` on the
    default port, which would leave a server behind that claims the user's USB phones."""
    try:
        socket.create_connection((c.host, c.port), timeout=5).close()
    except OSError:
        return False
    return True


def list_devices(adb: str | None = None) -> list[adbutils.AdbDeviceInfo]:
    c = client(adb)
    if not _reachable(c):
        raise NoDevice(f"no adb server at {c.host}:{c.port} (start one with `adb start-server`, "
                       "or `mpkit vdevice start` and --virtual)")
    try:
        return c.list(extended=True)
    except (AdbError, OSError) as e:
        raise NoDevice(f"cannot reach the adb server at {adb or 'the default port'}: {e}") from e


def connect(serial: str | None = None, adb: str | None = None) -> Device:
    """The device to use: `serial`, or the only attached one."""
    infos = list_devices(adb)
    if serial:
        match = [i for i in infos if i.serial == serial]
        if not match:
            raise NoDevice(f"no device {serial!r}; attached: "
                           f"{', '.join(i.serial for i in infos) or 'none'}")
        info = match[0]
    else:
        if not infos:
            raise NoDevice("no device attached (connect a phone, or start one with "
                           "`mpkit vdevice start`)")
        if len(infos) > 1:
            raise MultipleDevices(f"{len(infos)} devices attached "
                                  f"({', '.join(i.serial for i in infos)}): pass --serial")
        info = infos[0]
    if info.state in ("unauthorized", "authorizing"):
        raise Unauthorized(f"{info.serial} is unauthorized: accept the USB debugging prompt on "
                           "the device")
    if info.state != "device":
        raise Offline(f"{info.serial} is {info.state}: reconnect it")
    return Device(client(adb).device(info.serial), info.serial)


class Device:
    def __init__(self, device: adbutils.AdbDevice, serial: str):
        self._d, self.serial = device, serial

    # -- wire ------------------------------------------------------------------------------
    def _open(self, service: str, deadline: _Deadline) -> adbutils.AdbConnection:
        c = self._d.open_transport(timeout=deadline.left())
        c.send_command(service)
        c.check_okay()
        return c

    def _bounded(self, what: str, timeout: float, attempt: Callable[[_Deadline], T],
                 retry: bool = False) -> T:
        """Runs `attempt` under one deadline; a lost link is retried (idempotent operations)
        while time is left, a timeout is not."""
        deadline, attempts = _Deadline(timeout), RETRIES if retry else 1
        while True:
            attempts -= 1
            try:
                return attempt(deadline)
            except (TimeoutError, adbutils.AdbTimeout) as e:
                raise DeviceTimeout(f"{self.serial}: {what} took longer than {timeout:.0f} s") \
                    from e
            except (AdbError, OSError, EOFError) as e:
                if attempts == 0 or deadline.end - time.monotonic() < RETRY_DELAY_S:
                    raise LinkLost(f"{self.serial}: link lost during {what} ({e})") from e
                time.sleep(RETRY_DELAY_S)

    def _shell_v2(self, command: str, deadline: _Deadline,
                  max_bytes: int) -> tuple[int, bytes, bytes]:
        """(exit code, stdout, stderr) of `shell,v2:`, at most `max_bytes` of output."""
        with self._open(f"shell,v2:{command}", deadline) as c:
            out, err = bytearray(), bytearray()
            while True:
                header = _recv_exact(c, 5, deadline)
                kind, length = header[0], int.from_bytes(header[1:], "little")
                if kind != 3 and len(out) + len(err) + length > max_bytes:
                    raise OutputTooLarge(f"{self.serial}: `{command}` returned more than "
                                         f"{max_bytes} bytes")
                data = _recv_exact(c, length, deadline)
                if kind == 3:
                    return (data[0] if data else 255), bytes(out), bytes(err)
                (out if kind == 1 else err).extend(data if kind in (1, 2) else b"")

    # -- shell -----------------------------------------------------------------------------
    def shell(self, args: list[str], timeout: float = DEFAULT_TIMEOUT_S,
              check: bool = True, retry: bool = False) -> ShellResult:
        """Runs `args` (each quoted) on the device within `timeout` seconds in all;
        CommandFailed on a non-zero exit. `retry` only for commands that change nothing."""
        command = quote(args)
        rc, out, err = self._bounded(f"`{command}`", timeout, lambda d: self._shell_v2(
            command, d, MAX_SHELL_BYTES), retry)
        result = ShellResult(rc, out.decode(errors="replace"), err.decode(errors="replace"))
        if check and result.rc != 0:
            raise CommandFailed(f"{self.serial}: `{command}` exited {result.rc}: "
                                f"{(result.err or result.out).strip()[:300]}")
        return result

    def read(self, args: list[str], timeout: float = DEFAULT_TIMEOUT_S) -> str:
        """Idempotent query: stdout of a command that changes nothing (retried)."""
        return self.shell(args, timeout, retry=True).out

    def getprop(self, name: str) -> str:
        return self.read(["getprop", name]).strip()

    # -- files -----------------------------------------------------------------------------
    def push(self, local: Path, remote: str, timeout: float | None = None) -> None:
        """Pushes a file; the whole push (retries included) ends within `timeout` (default:
        a minute plus the time the file takes at 1 MB/s)."""
        size = Path(local).stat().st_size
        timeout = timeout or DEFAULT_TIMEOUT_S + size / MIN_RATE_BYTES_S
        reason = self._bounded(f"push of {local} to {remote}", timeout,
                               lambda d: self._push_once(Path(local), remote, d), retry=True)
        if reason is None:
            return
        # The device refused the file: diagnose the usual reason.
        free = dumpsys.free_storage_mb(self.shell(["df", "/data"], check=False).out)
        if "No space" in reason or (free is not None and free * 1024 * 1024 < size):
            raise StorageFull(f"{self.serial}: no space left for {remote} ({size} bytes, "
                              f"{'?' if free is None else f'{free:.1f}'} MB free)")
        raise CommandFailed(f"{self.serial}: the device refused {remote}: {reason}")

    def _push_once(self, local: Path, remote: str, deadline: _Deadline) -> str | None:
        """None when the device stored the file, else its FAIL reason."""
        mode = stat.S_IFREG | (local.stat().st_mode & 0o777)
        path = f"{remote},{mode}".encode()
        with self._open("sync:", deadline) as c, open(local, "rb") as f:
            _send(c, b"SEND" + struct.pack("<I", len(path)) + path, deadline)
            while chunk := f.read(SYNC_DATA_MAX):
                _send(c, b"DATA" + struct.pack("<I", len(chunk)) + chunk, deadline)
            _send(c, b"DONE" + struct.pack("<I", int(time.time())), deadline)
            status = _recv_exact(c, 8, deadline)
            if status[:4] == b"OKAY":
                return None
            if status[:4] != b"FAIL":
                raise AdbError(f"unexpected sync reply {status[:4]!r}")
            return _recv_exact(c, min(struct.unpack("<I", status[4:])[0], 4096),
                               deadline).decode(errors="replace")

    def pull(self, remote: str, local: Path, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        """Pulls a file (atomically: no partial `local`), within `timeout` seconds in all."""
        self._bounded(f"pull of {remote}", timeout,
                      lambda d: self._pull_once(remote, Path(local), d), retry=True)

    def _pull_once(self, remote: str, local: Path, deadline: _Deadline) -> None:
        path = remote.encode()
        with self._open("sync:", deadline) as c, atomic_output(local) as tmp, \
                open(tmp, "wb") as f:
            _send(c, b"RECV" + struct.pack("<I", len(path)) + path, deadline)
            while True:
                head = _recv_exact(c, 8, deadline)
                kind, size = head[:4], struct.unpack("<I", head[4:])[0]
                if kind == b"DONE":
                    return
                if kind == b"FAIL":
                    reason = _recv_exact(c, min(size, 4096), deadline).decode(errors="replace")
                    raise CommandFailed(f"{self.serial}: cannot pull {remote}: {reason}")
                if kind != b"DATA" or size > SYNC_DATA_MAX:
                    raise AdbError(f"unexpected sync reply {kind!r} ({size} bytes)")
                f.write(_recv_exact(c, size, deadline))

    def read_app_file(self, package: str, path: str) -> str:
        """A file in an app's private folder, through `run-as` (debuggable apps)."""
        return self.shell(["run-as", package, "cat", path]).out

    def read_app_bytes(self, package: str, path: str, timeout: float = DEFAULT_TIMEOUT_S,
                       max_bytes: int = MAX_SHELL_BYTES) -> bytes:
        """A binary file from an app's private folder, at most `max_bytes` (OutputTooLarge
        beyond, read no further)."""
        command = quote(["run-as", package, "cat", path])
        rc, out, err = self._bounded(f"reading {path}", timeout, lambda d: self._shell_v2(
            command, d, max_bytes), retry=True)
        if rc != 0:
            raise CommandFailed(f"{self.serial}: cannot read {path}: "
                                f"{err.decode(errors='replace').strip()[:300]}")
        return out

    # -- apps ------------------------------------------------------------------------------
    def install(self, apk: Path) -> None:
        remote = f"/data/local/tmp/{apk.name}"
        self.push(apk, remote)
        result = self.shell(["pm", "install", "-r", "-t", remote], check=False)
        self.shell(["rm", "-f", remote], check=False)
        if "Success" not in result.out:
            raise InstallFailed(f"{self.serial}: installing {apk.name} failed: "
                                f"{(result.out + result.err).strip()[:300]}")

    def start_activity(self, component: str, extras: dict[str, str | int | float | bool]) -> None:
        args = ["am", "start", "-W", "-n", component]
        for key, value in extras.items():
            flag = {bool: "--ez", int: "--ei", float: "--ef"}.get(type(value), "--es")
            args += [flag, key, str(value).lower() if isinstance(value, bool) else str(value)]
        self.shell(args)

    # -- state -----------------------------------------------------------------------------
    def info(self) -> DeviceInfo:
        props = {}
        for line in self.read(["getprop"]).splitlines():
            if line.startswith("[") and "]: [" in line:
                k, v = line[1:].split("]: [", 1)
                props[k] = v.rstrip("]")
        df = self.shell(["df", "/data"], check=False).out
        gpu = self.shell(["dumpsys", "SurfaceFlinger"], check=False).out
        gles = next((ln.split(":", 1)[1].strip() for ln in gpu.splitlines()
                     if ln.startswith("GLES:")), "unknown")
        return DeviceInfo(
            serial=self.serial, model=props.get("ro.product.model", "?"),
            manufacturer=props.get("ro.product.manufacturer", "?"),
            soc=f"{props.get('ro.soc.manufacturer', '?')} {props.get('ro.soc.model', '?')}",
            abi=props.get("ro.product.cpu.abi", "?"),
            android=props.get("ro.build.version.release", "?"),
            sdk=props.get("ro.build.version.sdk", "?"),
            fingerprint=props.get("ro.build.fingerprint", "?"), gpu=gles,
            free_storage_mb=dumpsys.free_storage_mb(df),
            virtual=props.get("ro.mpkit.virtual") == "1")

    def thermal_c(self) -> dict[str, float]:
        return dumpsys.thermal_celsius(self.read(["dumpsys", "thermalservice"]))

    def battery(self) -> dict:
        return dumpsys.battery(self.read(["dumpsys", "battery"]))

    def pss_mb(self, package: str) -> float | None:
        return dumpsys.pss_mb(self.read(["dumpsys", "meminfo", package]))
