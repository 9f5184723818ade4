"""A manifest's file names cannot reach outside the bundle: deploy refuses each traversal
probe before anything is pushed, and the device holds exactly what it held before."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mpkit.device.deploy import REMOTE_ROOT, deploy
from mpkit.errors import MpkitError
from mpkit.media.assets import sha256_file

HOSTNAME = Path("/etc/hostname")


def _escape_up(b: Path) -> tuple[str, Path]:
    (b.parent / "x").write_text("outside the bundle\n")
    return "../x", b.parent / "x"


def _subfolder(b: Path) -> tuple[str, Path]:
    (b / "a").mkdir()
    (b / "a/b").write_text("in a subfolder\n")
    return "a/b", b / "a/b"


def _symlink(b: Path) -> tuple[str, Path]:
    (b / "hostname").symlink_to(HOSTNAME)
    return "hostname", HOSTNAME


PROBES = {"dotdot": (_escape_up, "it climbs out of the bundle folder"),
          "absolute": (lambda b: (str(HOSTNAME), HOSTNAME), "it is an absolute path"),
          "subfolder": (_subfolder, "it names a subfolder"),
          "symlink": (_symlink, "hostname is a symlink")}


def _device_files(device) -> dict[str, str]:
    """Every folder a push could reach, listed through adb (a phone or the virtual device)."""
    folders = [REMOTE_ROOT, REMOTE_ROOT.rsplit("/", 1)[0], "/data/local/tmp", "/sdcard"]
    listing = {f: device.shell(["ls", f], check=False).out for f in folders}
    for sub in listing[REMOTE_ROOT].split():
        folder = f"{REMOTE_ROOT}/{sub}"
        listing[folder] = device.shell(["ls", folder], check=False).out
    return listing


@pytest.mark.parametrize("probe", PROBES, ids=list(PROBES))
def test_deploy_refuses_a_traversal_manifest_before_pushing(app, bundle, tmp_path, probe):
    copy = shutil.copytree(bundle, tmp_path / "b")
    make, cause = PROBES[probe]
    name, target = make(copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    # The probe's size and sha256 are the target's: only the name itself can give it away.
    manifest["helpers"][0].update(file=name, sha256=sha256_file(target),
                                  bytes=target.stat().st_size)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    before = _device_files(app)
    with pytest.raises(MpkitError, match=cause):
        deploy(app, copy)
    assert _device_files(app) == before


def test_deploy_leaves_the_bundle_readable_by_the_app(device, fleet, bundle, tmp_path):
    """The app is not the shell user: every folder of a deployed bundle must be searchable and
    every file readable by others, whatever modes the host files had."""
    if fleet is None:
        pytest.skip("reads the virtual device's folder from the host")
    copy = shutil.copytree(bundle, tmp_path / "b")
    for f in copy.iterdir():
        f.chmod(0o600)  # a user's umask 077
    remote, _ = deploy(device, copy)
    device_root = fleet.running[0].device.root
    folder = device_root / remote.lstrip("/")
    folders = [folder, folder.parent, folder.parent.parent]  # <id>, bundles, mpkit
    files = list(folder.iterdir())
    assert len(files) == len(list(bundle.iterdir()))
    assert [f.name for f in files if not f.stat().st_mode & 0o004] == []
    assert [str(d) for d in folders if d.stat().st_mode & 0o005 != 0o005] == []
