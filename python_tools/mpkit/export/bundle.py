"""Bundles: a directory of component files + helper models + `manifest.json`, written
atomically; `verify` re-checks the schema and every file's sha256."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from mpkit.errors import MpkitError
from mpkit.media.assets import sha256_file

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TensorIO(_Strict):
    name: str
    shape: list[int]
    dtype: str
    range: str


class FileEntry(_Strict):
    name: str
    file: str
    sha256: str
    bytes: int


class ComponentEntry(FileEntry):
    stage: str
    precision: str  # fp32 | fp16 | int8 | mixed (a recipe may leave some components fp32)
    inputs: list[TensorIO]
    outputs: list[TensorIO]
    layout: str = "NCHW float32; images RGB in [0,1]; keypoints (x,y) in [-1,1]"
    validation: dict[str, float] = {}


class HelperEntry(FileEntry):
    role: str
    runtime: str = "litert"


class Manifest(_Strict):
    schema_version: int
    model_id: str
    backend: str
    runtime: str
    precision: str
    recipe: str
    warp: str
    trained: bool
    checkpoint_sha256: str | None
    frame_gmacs: float
    params_m: float
    components: list[ComponentEntry]
    helpers: list[HelperEntry]
    validation: dict
    tools: dict[str, str]
    created_utc: str


def file_entry(path: Path) -> dict:
    return {"file": path.name, "sha256": sha256_file(path), "bytes": path.stat().st_size}


def prepare_output(out: Path, force: bool) -> Path:
    """A fresh staging folder beside `out`; refuses a non-empty `out` without force."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise MpkitError(f"{out} exists and is not empty: choose another -o or pass --force")
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))


def publish(staging: Path, manifest: Manifest, out: Path) -> None:
    """Writes the manifest last, then swaps the staging folder into place."""
    (staging / MANIFEST).write_text(json.dumps(manifest.model_dump(), indent=2) + "\n")
    if out.exists():
        shutil.rmtree(out)
    os.replace(staging, out)


def verify(bundle: Path) -> Manifest:
    """The manifest, after checking its schema and every listed file's sha256."""
    path = bundle / MANIFEST
    if not path.is_file():
        raise MpkitError(f"{bundle}: no {MANIFEST} (not a bundle)")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise MpkitError(f"{path}: not valid JSON ({e})") from e
    if data.get("schema_version") != SCHEMA_VERSION:
        raise MpkitError(f"{path}: schema version {data.get('schema_version')} is not "
                         f"{SCHEMA_VERSION}; use the mpkit that wrote it")
    try:
        manifest = Manifest(**data)
    except ValidationError as e:
        first = e.errors()[0]
        raise MpkitError(f"{path}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from e
    for entry in [*manifest.components, *manifest.helpers]:
        f = bundle / entry.file
        if not f.is_file():
            raise MpkitError(f"{bundle}: {entry.file} is missing")
        if f.stat().st_size != entry.bytes or sha256_file(f) != entry.sha256:
            raise MpkitError(f"{bundle}: {entry.file} does not match its sha256 in {MANIFEST}")
    return manifest
