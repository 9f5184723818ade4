"""What this host has for mpkit: backends (and why not), adb, Java/Kotlin tooling, the data
folders, cached assets and the software GPU, each with the fix when something is missing.
`needed` marks what the main job (`mpkit demo`) cannot run without."""

from __future__ import annotations

import importlib
import os
import shutil
import socket
import subprocess
from dataclasses import asdict, dataclass

from mpkit.errors import DependencyError, MpkitError

# Optional Python modules (top-level import name) -> how to get them.
TFLITE_SUPPORT_FIX = ("pip install --no-deps tflite-support==0.4.4 pybind11 (installed without "
                      "its dependencies: it pins protobuf<4, and mpkit only uses its metadata "
                      "writers)")
OPTIONAL = {
    "executorch": "pip install 'mpkit[executorch]'",
    "torchao": "pip install 'mpkit[executorch]'",
    "litert_torch": "pip install 'mpkit[tflite]'",
    "ai_edge_quantizer": "pip install 'mpkit[tflite]'",
    "tensorflow": "pip install 'mpkit[tflite]'",
    "tensorflow_lite_support": TFLITE_SUPPORT_FIX,
    "pybind11": TFLITE_SUPPORT_FIX,
    "dlib": "pip install 'mpkit[identity]'",
}
# What each runtime needs to lower (export) its artifacts and to run them on this host.
LOWERING = {
    "executorch": ["executorch.exir", "executorch.backends.xnnpack.partition.xnnpack_partitioner"],
    "litert": ["litert_torch", "ai_edge_quantizer",
               "tensorflow_lite_support.metadata.python.metadata_writers.metadata_info"],
}
HOST_RUNTIME = {"executorch": "executorch.runtime", "litert": "ai_edge_litert.interpreter"}
DEMO_BACKENDS = ("tflite", "executorch-xnnpack")


@dataclass(frozen=True)
class Check:
    area: str
    name: str
    ok: bool
    detail: str  # what was found, or why it is missing
    fix: str | None = None
    needed: bool = False  # the main job needs it

    def as_dict(self) -> dict:
        return asdict(self)


def missing_dependency(e: ModuleNotFoundError) -> DependencyError | None:
    """The DependencyError naming the install fix for a missing optional module, else None."""
    top = (e.name or "").split(".")[0]
    if top not in OPTIONAL:
        return None
    return DependencyError(f"the Python module {top} is not installed: {OPTIONAL[top]}")


def _import(module: str) -> tuple[str, str | None] | None:
    """None when `module` imports, else (why not, the fix if known)."""
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as e:
        top = (e.name or module).split(".")[0]
        if top in OPTIONAL:
            return f"{top} is not installed", OPTIONAL[top]
        return f"{module}: {e}", None
    except Exception as e:  # a broken install: report it, never crash the report
        return f"{module} fails to import: {type(e).__name__}: {e}", None
    return None


def backends() -> list[Check]:
    from mpkit.export.backends import BACKENDS

    checks = []
    for name, cls in BACKENDS.items():
        backend = cls()
        problems = [p for m in LOWERING[backend.runtime] if (p := _import(m))]
        try:
            backend.check_available()
        except MpkitError as e:
            problems.append((str(e), None))
        runs = "not runnable on this host (lowers only)"
        if backend.host_runnable:
            problem = _import(HOST_RUNTIME[backend.runtime])
            runs = f"runs here ({', '.join(backend.host_delegates)})"
            problems += [problem] if problem else []
        fixes = list(dict.fromkeys(fix for _, fix in problems if fix))
        checks.append(Check("backend", name, not problems,
                            "; ".join(why for why, _ in problems) or f"exports; {runs}",
                            "; ".join(fixes) or None, needed=name in DEMO_BACKENDS))
    return checks


def _version(command: list[str], lines: int = 1) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"does not run: {e}"
    text = (out.stdout or out.stderr).strip().splitlines()
    return ", ".join(text[:lines]) if text else f"exit {out.returncode}"


def _adb_request(port: int, service: str) -> str | None:
    """One adb host request to 127.0.0.1:port (never starts a server); None if none answers."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(f"{len(service):04x}{service}".encode())
            if s.recv(4) != b"OKAY":
                return None
            size = int(s.recv(4) or b"0", 16)
            data = b""
            while len(data) < size and (chunk := s.recv(size - len(data))):
                data += chunk
            return data.decode(errors="replace")
    except (OSError, ValueError):
        return None


def adb() -> list[Check]:
    from mpkit.vdevice import control

    checks = []
    try:
        bundled = control.bundled_adb()
        checks.append(Check("adb", "adb binary", True,
                            f"{bundled}: {_version([bundled, 'version'], 2)}", needed=True))
    except MpkitError as e:
        checks.append(Check("adb", "adb binary", False, str(e),
                            "pip install adbutils (ships adb 36) or apt-get install adb",
                            needed=True))
    debian = shutil.which("adb")
    checks.append(Check("adb", "adb on PATH", bool(debian),
                        f"{debian}: {_version([debian, 'version'], 2)}" if debian else "not found",
                        None if debian else "apt-get install adb (the device tests also use it)"))
    port = int(os.environ.get("ANDROID_ADB_SERVER_PORT", "5037"))
    devices = _adb_request(port, "host:devices")
    checks.append(Check("adb", f"adb server 127.0.0.1:{port}", True,
                        f"running, {len(devices.splitlines())} device(s)" if devices is not None
                        else "not running (the demo and virtual devices start their own)"))
    state = control.status()
    checks.append(Check("adb", "virtual devices", True,
                        f"running on adb port {state['adb_port']}: {', '.join(state['serials'])}"
                        if state else "not running (`mpkit vdevice start`)"))
    return checks


def tooling() -> list[Check]:
    """Java and Kotlin for the Android app's core (nothing the main job needs)."""
    from mpkit.datadir import CHECKOUT

    kotlinc = CHECKOUT / ".tools" / "node_modules" / "kotlin-compiler" / "bin" / "kotlinc"
    found = {"java": shutil.which("java"), "javac": shutil.which("javac"),
             "kotlinc": shutil.which("kotlinc") or (str(kotlinc) if kotlinc.is_file() else None)}
    fixes = {"java": "apt-get install openjdk-17-jdk-headless",
             "javac": "apt-get install openjdk-17-jdk-headless",
             "kotlinc": "bash scripts/kotlin.sh (installs the pinned Kotlin compiler into .tools/)"}
    return [Check("tooling", tool, bool(path),
                  f"{path}: {_version([path, '-version'])}" if path
                  else "not found (the Android app's core needs it)", None if path else fixes[tool])
            for tool, path in found.items()]


def data() -> list[Check]:
    from mpkit.export.recipes import quantization_dir, recipe_names
    from mpkit.models.config import model_ids, models_dir

    checks = []
    for name, folder, names in (("models", models_dir, model_ids),
                                ("recipes", quantization_dir, recipe_names)):
        try:
            found, detail = names(), str(folder())
        except MpkitError as e:
            found, detail = [], str(e)
        checks.append(Check("data", name, bool(found), f"{detail}: {', '.join(found) or 'none'}",
                            None if found else "set MPKIT_DATA_DIR to a folder with models/ and "
                            "quantization/, or reinstall mpkit", needed=True))
    return checks


def assets() -> list[Check]:
    from mpkit.media import assets as lib

    bad = []
    _, items = lib.catalog()
    for asset in items.values():
        path = lib.assets_dir() / asset.name
        if not path.is_file():
            bad.append(f"{asset.name} missing")
        elif lib.sha256_file(path) != asset.sha256:
            bad.append(f"{asset.name} fails its sha256 check")
    detail = (f"{len(items) - len(bad)}/{len(items)} in {lib.assets_dir()} match their sha256"
              + (f"; {', '.join(bad)}" if bad else ""))
    return [Check("assets", "cached assets", not bad, detail,
                  "mpkit assets fetch" if bad else None, needed=True)]


def software_gpu() -> Check:
    """SwiftShader's Vulkan driver in the mpkit cache behind the system Vulkan loader: what
    LiteRT's real GPU accelerator runs on here (the driver's package version is recorded)."""
    from mpkit.gpu import software

    state = software.status()
    detail = (f"SwiftShader from {software.PACKAGE} {state.package_version} ({state.driver}); "
              f"{software.TIMING_LABEL}" if state.ready else state.problem)
    fix = None if state.ready else ("apt-get install libvulkan1, then mpkit gpu setup"
                                    if not state.loader else "mpkit gpu setup")
    return Check("gpu", "software GPU (SwiftShader Vulkan)", state.ready, detail, fix)


def run() -> list[Check]:
    return [*backends(), *adb(), *data(), *assets(), software_gpu(), *tooling()]


def blocking(checks: list[Check]) -> list[Check]:
    """The failed checks the main job needs."""
    return [c for c in checks if c.needed and not c.ok]
