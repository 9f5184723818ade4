"""The Device layer over adbutils, talking to a real adb server (local, private or remote).

Every argument that reaches the device shell is quoted (shlex.quote). Only idempotent
operations are retried.
"""

from __future__ import annotations

import functools
import os
import shlex
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import adbutils
from adbutils.errors import AdbError, AdbTimeout

from mpkit.device import dumpsys
from mpkit.device.errors import (
    CommandFailed, DeviceTimeout, InstallFailed, LinkLost, MultipleDevices, NoDevice, Offline,
    StorageFull, Unauthorized,
)

DEFAULT_TIMEOUT_S = 60.0


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


def _retry(times: int = 3, delay_s: float = 0.3):
    """Retries an idempotent operation on a dropped link."""

    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            for attempt in range(times):
                try:
                    return fn(*args, **kwargs)
                except LinkLost:
                    if attempt == times - 1:
                        raise
                    time.sleep(delay_s)

        return inner

    return wrap


def client(adb: str | None = None) -> adbutils.AdbClient:
    """An adbutils client for `HOST:PORT` (default: $ANDROID_ADB_SERVER_PORT or 5037)."""
    host, port = "127.0.0.1", int(os.environ.get("ANDROID_ADB_SERVER_PORT", "5037"))
    if adb:
        host, _, p = adb.rpartition(":")
        host, port = host or "127.0.0.1", int(p)
    return adbutils.AdbClient(host=host, port=port)


def list_devices(adb: str | None = None) -> list[adbutils.AdbDeviceInfo]:
    try:
        return client(adb).list(extended=True)
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

    # -- shell -----------------------------------------------------------------------------
    def shell(self, args: list[str], timeout: float = DEFAULT_TIMEOUT_S,
              check: bool = True) -> ShellResult:
        """Runs `args` (each quoted) on the device; CommandFailed on a non-zero exit."""
        command = quote(args)
        try:
            r = self._d.shell2(command, timeout=timeout, v2=True)
        except AdbTimeout as e:
            raise DeviceTimeout(f"{self.serial}: `{command}` took longer than {timeout:.0f} s") from e
        except (AdbError, OSError, EOFError) as e:
            raise LinkLost(f"{self.serial}: link lost during `{command}` ({e})") from e
        result = ShellResult(r.returncode, r.stdout, r.stderr)
        if check and result.rc != 0:
            raise CommandFailed(f"{self.serial}: `{command}` exited {result.rc}: "
                                f"{(result.err or result.out).strip()[:300]}")
        return result

    @_retry()
    def read(self, args: list[str], timeout: float = DEFAULT_TIMEOUT_S) -> str:
        """Idempotent query: stdout of a command that changes nothing (retried)."""
        return self.shell(args, timeout).out

    def getprop(self, name: str) -> str:
        return self.read(["getprop", name]).strip()

    # -- files -----------------------------------------------------------------------------
    @_retry()
    def push(self, local: Path, remote: str) -> None:
        try:
            self._d.sync.push(str(local), remote)
        except AdbError as e:
            if "FAIL" not in str(e):
                raise LinkLost(f"{self.serial}: link lost pushing {local} ({e})") from e
            # The device refused the file (adbutils drops its reason): diagnose the usual one.
            size = Path(local).stat().st_size
            free = dumpsys.free_storage_mb(self.shell(["df", "/data"], check=False).out)
            if free is not None and free * 1024 * 1024 < size:
                raise StorageFull(f"{self.serial}: no space left for {remote} ({size} bytes, "
                                  f"{free:.1f} MB free)") from e
            raise CommandFailed(f"{self.serial}: the device refused {remote}") from e
        except (OSError, EOFError) as e:
            raise LinkLost(f"{self.serial}: link lost pushing {local} ({e})") from e

    @_retry()
    def pull(self, remote: str, local: Path) -> None:
        try:
            self._d.sync.pull(remote, str(local))
        except (AdbError, OSError, EOFError) as e:
            raise LinkLost(f"{self.serial}: pull of {remote} failed ({e})") from e

    def read_app_file(self, package: str, path: str) -> str:
        """A file in an app's private folder, through `run-as` (debuggable apps)."""
        return self.shell(["run-as", package, "cat", path]).out

    def read_app_bytes(self, package: str, path: str, timeout: float = DEFAULT_TIMEOUT_S) -> bytes:
        """A binary file from an app's private folder (`exec:` keeps the bytes intact)."""
        try:
            return self._d.shell(["run-as", package, "cat", path], encoding=None, timeout=timeout)
        except (AdbError, OSError, EOFError) as e:
            raise LinkLost(f"{self.serial}: link lost reading {path} ({e})") from e

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
