"""The software GPU: SwiftShader's Vulkan driver (from Debian's `chromium-common`, extracted into
mpkit's cache, never installed) behind the system Vulkan loader. LiteRT's real GPU accelerator
runs on it, so GPU op placement and numerics are real here; its timings are not GPU speed.

The driver is announced to mpkit's own child processes only (`child_env`), never to the user's
shell."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from mpkit.errors import DependencyError
from mpkit.media.assets import cache_dir
from mpkit.media.files import atomic_output

PACKAGE = "chromium-common"
DRIVER = "usr/lib/chromium/libvk_swiftshader.so"
LOADER = "libvulkan.so.1"
DRIVER_DIR_ENV = "MPKIT_GPU_DRIVER_DIR"
TIMING_LABEL = "software GPU: placement and numerics are real, times are not GPU speed"


@dataclass(frozen=True)
class SoftwareGpu:
    ready: bool
    loader: bool  # the Vulkan loader libvulkan.so.1 loads
    driver: str | None  # path of libvk_swiftshader.so in the cache
    package_version: str | None  # the chromium-common version the driver came from
    problem: str | None  # what is missing and how to get it

    def as_dict(self) -> dict:
        return asdict(self)


def driver_dir() -> Path:
    """Where `setup` puts the driver and its ICD file: $MPKIT_GPU_DRIVER_DIR, else the cache."""
    return Path(os.environ.get(DRIVER_DIR_ENV) or cache_dir() / "swiftshader")


def _loader_loads() -> bool:
    try:
        ctypes.CDLL(LOADER)
    except OSError:
        return False
    return True


def status() -> SoftwareGpu:
    loader = _loader_loads()
    record = driver_dir() / "driver.json"
    info = json.loads(record.read_text()) if record.is_file() else {}
    driver = info.get("driver")
    driver_ok = bool(driver) and Path(driver).is_file() and (driver_dir() / "icd.json").is_file()
    problems = []
    if not loader:
        problems.append(f"the Vulkan loader {LOADER} is missing: apt-get install libvulkan1")
    if not driver_ok:
        problems.append("the SwiftShader Vulkan driver is not set up: run `mpkit gpu setup` "
                        f"(extracts it from Debian's {PACKAGE} into {driver_dir()})")
    return SoftwareGpu(ready=loader and driver_ok, loader=loader,
                       driver=driver if driver_ok else None,
                       package_version=info.get("package_version") if driver_ok else None,
                       problem="; ".join(problems) or None)


def require() -> SoftwareGpu:
    gpu = status()
    if not gpu.ready:
        raise DependencyError(f"the GPU path needs a Vulkan device: {gpu.problem}")
    return gpu


def child_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child process that runs LiteRT's GPU accelerator on SwiftShader."""
    gpu = require()
    env = dict(os.environ if base is None else base)
    runtime = driver_dir() / "xdg-runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env.update(VK_ICD_FILENAMES=str(driver_dir() / "icd.json"), XDG_RUNTIME_DIR=str(runtime),
               MPKIT_SOFTWARE_GPU=gpu.package_version or "")
    return env


def _apt_download(folder: str) -> subprocess.CompletedProcess:
    """`apt-get download`; as root, with the package lists refreshed once when apt has none."""
    run = lambda: subprocess.run(["apt-get", "download", PACKAGE], cwd=folder,  # noqa: E731
                                 capture_output=True, text=True)
    done = run()
    if done.returncode != 0 and os.geteuid() == 0:
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
        done = run()
    return done


def require_gpu_process() -> SoftwareGpu:
    """Refuses to load the GPU accelerator into a process that was not started for it: without
    the driver in its environment LiteRT would quietly run everything on the CPU, and a crash of
    the accelerator takes the whole process down."""
    gpu = require()
    if os.environ.get("VK_ICD_FILENAMES") != str(driver_dir() / "icd.json"):
        raise DependencyError("the GPU accelerator runs only in a process started with "
                              "mpkit.gpu.software.child_env() (mpkit's GPU child processes and "
                              "the virtual device's tensor bridge); use "
                              "mpkit.gpu.accelerator.run from anywhere else")
    return gpu


def setup() -> SoftwareGpu:
    """Downloads `chromium-common` with apt (checked against Debian's signed index), extracts
    only the SwiftShader driver into the cache, and writes an ICD file with its absolute path.
    A second call only checks."""
    if (current := status()).driver:
        return current
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise DependencyError(f"`mpkit gpu setup` needs {tool} (a Debian-based system) to "
                                  f"fetch the SwiftShader driver from {PACKAGE}")
    target = driver_dir()
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target) as tmp:
        download = _apt_download(tmp)
        debs = sorted(Path(tmp).glob(f"{PACKAGE}_*.deb"))
        if download.returncode != 0 or not debs:
            raise DependencyError(f"apt-get download {PACKAGE} failed: "
                                  f"{download.stderr.strip()[-400:]} (run `apt-get update` first)")
        version = subprocess.run(["dpkg-deb", "-f", str(debs[0]), "Version"], check=True,
                                 capture_output=True, text=True).stdout.strip()
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(Path(tmp) / "x")], check=True,
                       capture_output=True)
        extracted = Path(tmp) / "x" / DRIVER
        if not extracted.is_file():
            raise DependencyError(f"{PACKAGE} {version} has no {DRIVER}: the package changed; "
                                  "see research/gpu-host.md")
        driver = target / f"libvk_swiftshader-{version}.so"
        with atomic_output(driver) as out:
            shutil.copyfile(extracted, out)
    with atomic_output(target / "icd.json") as out:
        out.write_text(json.dumps({"file_format_version": "1.0.0",
                                   "ICD": {"library_path": str(driver), "api_version": "1.0.5"}}))
    with atomic_output(target / "driver.json") as out:
        out.write_text(json.dumps({"driver": str(driver), "package": PACKAGE,
                                   "package_version": version}))
    return status()
