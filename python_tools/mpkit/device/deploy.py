"""Deploy a bundle to a content-addressed folder on the device, verified on the device side."""

from __future__ import annotations

import hashlib
from pathlib import Path

from mpkit.device.adb import Device
from mpkit.device.errors import CommandFailed
from mpkit.export.bundle import MANIFEST, verify

REMOTE_ROOT = "/data/local/tmp/mpkit/bundles"
# The app (an untrusted_app) may read and mmap, not list or write, shell_data_file under
# /data/local/tmp (sepolicy untrusted_app_all.te); adbd gives pushed files others' read bits
# from the host's, so every folder and file is made readable by others explicitly.
READABLE_ROOT = "/data/local/tmp/mpkit"


def remote_dir(bundle: Path) -> str:
    digest = hashlib.sha256((bundle / MANIFEST).read_bytes()).hexdigest()[:16]
    return f"{REMOTE_ROOT}/{digest}"


def _device_hashes(device: Device, remote: str, files: list[str]) -> dict[str, str]:
    """sha256 by file name of the files `sha256sum` found on the device, each matched by its
    full path (a line for any other path is ignored)."""
    paths = {f"{remote}/{f}": f for f in files}
    out = device.shell(["sha256sum", *paths], check=False).out
    hashes = {}
    for line in out.splitlines():
        digest, _, path = line.partition("  ")
        if path in paths:
            hashes[paths[path]] = digest
    return hashes


def deploy(device: Device, bundle: Path, apk: Path | None = None) -> tuple[str, bool]:
    """(the bundle's folder on the device, whether anything was pushed). The bundle is verified
    first: every file a plain name inside it, so nothing is pushed from or to anywhere else."""
    manifest = verify(bundle)
    remote = remote_dir(bundle)
    entries = {e.file: e.sha256 for e in [*manifest.components, *manifest.helpers]}
    have = _device_hashes(device, remote, [*entries, MANIFEST])
    local_manifest = hashlib.sha256((bundle / MANIFEST).read_bytes()).hexdigest()
    pushed = False
    if have.get(MANIFEST) != local_manifest or any(have.get(f) != h for f, h in entries.items()):
        device.shell(["mkdir", "-p", remote])
        for name, digest in entries.items():
            if have.get(name) != digest:
                device.push(bundle / name, f"{remote}/{name}")
        device.push(bundle / MANIFEST, f"{remote}/{MANIFEST}")  # last: marks it complete
        device.shell(["chmod", "-R", "a+rX", READABLE_ROOT])
        pushed = True
        have = _device_hashes(device, remote, [*entries, MANIFEST])
    bad = sorted(f for f, h in entries.items() if have.get(f) != h)
    if bad:
        raise CommandFailed(f"{device.serial}: {', '.join(bad)} in {remote} does not match the "
                            "bundle's sha256 (tampered or truncated); deploy again")
    if apk is not None:
        device.install(apk)
    return remote, pushed
