"""Bundles: a directory of component files + helper models + `manifest.json`, written
atomically; `verify` re-checks the schema, that every file is a plain file inside the bundle,
every file's sha256, and the model's pose bank the bundle carries."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from mpkit.audio.features import FeatureSpec
from mpkit.errors import MpkitError
from mpkit.media.assets import sha256_file
from mpkit.media.files import fsync_path

if TYPE_CHECKING:  # torch, which the bank imports, is loaded only when a bank is read
    from mpkit.pipeline.pose_bank import PoseBank

SCHEMA_VERSION = 4
# What each schema version brought (an older bundle is refused, naming it, with the fix).
SCHEMA_CHANGES = {2: "per-delegate validation (validation per host check and `delegates`)",
                  3: "the pose bank in the bundle (the `pose_bank` helper)",
                  4: "audio components and their front end's settings (`audio_features`)"}
AUDIO_STAGE = "audio"  # the stage of a component that drives the frame stage from speech
POSE_BANK = "pose_bank"  # the helper role (and name) of the model's pose bank, read as JSON
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 1 << 20  # a real manifest is ~10 kB
MAX_MANIFEST_DEPTH = 32  # a real manifest nests 6 deep


def name_problem(name: str) -> str | None:
    """Why `name` is not a plain file name that stays inside its folder (None if it is)."""
    if not name:
        return "it is empty"
    if "\0" in name:
        return "it contains a NUL byte"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "it contains a control character"
    if name.startswith(("/", "\\")):
        return "it is an absolute path"
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        return "it climbs out of the bundle folder ('..')"
    if len(parts) > 1:
        return "it names a subfolder ('/' or '\\')"
    if name == ".":
        return "it names the bundle folder itself"
    if len(name.encode()) > 255:
        return "it is longer than 255 bytes"
    return None


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

    @field_validator("file")
    @classmethod
    def _plain(cls, name: str) -> str:
        if (why := name_problem(name)) or name == MANIFEST:
            raise ValueError(f"{name!r} is not a plain file name in the bundle: "
                             f"{why or 'it is the manifest itself'}")
        return name


class ComponentEntry(FileEntry):
    stage: str
    precision: str  # fp32 | fp16 | int8 | mixed (a recipe may leave some components fp32)
    inputs: list[TensorIO]
    outputs: list[TensorIO]
    layout: str = "NCHW float32; images RGB in [0,1]; keypoints (x,y) in [-1,1]"
    # Per host check (cpu, gpu_fp16, gpu_fp32, xnnpack): worst SQNR (dB) of each output.
    validation: dict[str, dict[str, float]] = {}


class HelperEntry(FileEntry):
    role: str
    runtime: str = "litert"


class Manifest(_Strict):
    schema_version: int
    model_id: str
    backend: str
    runtime: str
    # The delegates the bundle may run with, the default first: each validated on the host
    # within the recipe's gate (`validation.delegates` says why any other is not claimed).
    delegates: list[str]
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
    # With an audio component: the audio front end's settings (models/audio_features.yaml),
    # which the app's front end must compute the same windows with; null without one.
    audio_features: FeatureSpec | None
    audio_checkpoint_sha256: str | None  # the audio driver exported; null without one

    @field_validator("delegates")
    @classmethod
    def _claimed(cls, delegates: list[str]) -> list[str]:
        if not delegates or len(set(delegates)) != len(delegates):
            raise ValueError(f"{delegates!r}: a bundle names each delegate it claims once, and "
                             "at least one")
        return delegates

    @model_validator(mode="after")
    def _audio_front_end(self) -> Manifest:
        audio = [c.name for c in self.components if c.stage == AUDIO_STAGE]
        given = {"audio_features": self.audio_features is not None,
                 "audio_checkpoint_sha256": self.audio_checkpoint_sha256 is not None}
        if audio and (missing := [k for k, v in given.items() if not v]):
            raise ValueError(f"component {audio[0]!r} is in stage {AUDIO_STAGE!r} but "
                             f"{missing[0]} is null: re-export the bundle with --audio")
        if not audio and (extra := [k for k, v in given.items() if v]):
            raise ValueError(f"{extra[0]} is set but no component is in stage {AUDIO_STAGE!r}")
        return self

    def files(self) -> list[str]:
        return [e.file for e in [*self.components, *self.helpers]]

    @property
    def views(self) -> int:
        """The model's T: the batch of the multiview component's `deformations` input."""
        for c in self.components:
            for i in c.inputs if c.name == "multiview" else []:
                if i.name == "deformations":
                    return i.shape[0]
        raise MpkitError(f"this {self.model_id} bundle has no multiview component with a "
                         "'deformations' input: re-export the bundle")

    def delegate(self, asked: str | None = None) -> str:
        """The delegate to run with (None: the default); one the bundle was not validated for
        is refused, naming the ones it was and why not that one."""
        if asked is None:
            return self.delegates[0]
        if asked not in self.delegates:
            why = self.validation.get("delegates", {}).get(asked, {}).get("why")
            raise MpkitError(
                f"this {self.model_id} {self.backend} bundle is not validated for delegate "
                f"{asked!r}{f' ({why})' if why else ''}; it is validated for: "
                f"{', '.join(self.delegates)}: run it with one of those, or re-export it "
                f"where {asked} runs")
        return asked


def file_entry(path: Path) -> dict:
    return {"file": path.name, "sha256": sha256_file(path), "bytes": path.stat().st_size}


def _regular_file(path: Path, what: str) -> os.stat_result:
    """lstat of `path`, which must be a regular file (a symlink is refused, not followed)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise MpkitError(f"{path.parent}: {what} is missing") from None
    if stat.S_ISLNK(st.st_mode):
        raise MpkitError(f"{path.parent}: {what} is a symlink; a bundle holds only regular "
                         "files: copy the file in")
    if not stat.S_ISREG(st.st_mode):
        raise MpkitError(f"{path.parent}: {what} is not a regular file")
    return st


def _depth(value) -> int:
    """How deeply `value` (parsed JSON) nests lists and objects."""
    depth, level = 0, [value]
    while level:
        depth += 1
        level = [v for x in level if isinstance(x, (dict, list))
                 for v in (x.values() if isinstance(x, dict) else x)]
    return depth - 1


def read_manifest(bundle: Path) -> Manifest:
    """The bundle's manifest, checked: size, UTF-8, JSON, nesting, schema version and schema."""
    path = bundle / MANIFEST
    if not bundle.is_dir():
        raise MpkitError(f"{bundle} is not a folder (not a bundle)")
    if not os.path.lexists(path):
        raise MpkitError(f"{bundle}: no {MANIFEST} (not a bundle)")
    size = _regular_file(path, MANIFEST).st_size
    if size > MAX_MANIFEST_BYTES:
        raise MpkitError(f"{path}: {size} bytes, over the {MAX_MANIFEST_BYTES} byte limit "
                         "for a manifest (not an mpkit manifest)")
    with open(path, "rb") as f:
        raw = f.read(MAX_MANIFEST_BYTES + 1)
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise MpkitError(f"{path}: not UTF-8 text (byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise MpkitError(f"{path}: not valid JSON ({e})") from None
    except RecursionError:
        raise MpkitError(f"{path}: nested too deeply to be a manifest") from None
    if not isinstance(data, dict):
        raise MpkitError(f"{path}: a JSON {type(data).__name__}, not an object (not a manifest)")
    if _depth(data) > MAX_MANIFEST_DEPTH:
        raise MpkitError(f"{path}: nested more than {MAX_MANIFEST_DEPTH} levels deep "
                         "(not a manifest)")
    if (version := data.get("schema_version")) != SCHEMA_VERSION:
        older = type(version) is int and version < SCHEMA_VERSION
        raise MpkitError(f"{path}: schema version {version!r} is not {SCHEMA_VERSION}; " + (
            f"it predates {SCHEMA_CHANGES[max(version + 1, 2)]}: re-export the bundle with "
            "this mpkit (`mpkit export`)" if older else "use the mpkit that wrote it"))
    try:
        return Manifest(**data)
    except ValidationError as e:
        first, more = e.errors()[0], e.error_count() - 1
        where = ".".join(map(str, first["loc"])) or "(top level)"
        also = f" (and {more} more problem{'s' * (more > 1)})" if more else ""
        raise MpkitError(f"{path}: {where}: {first['msg']}{also}") from None


def _mismatch(bundle: Path, entry: FileEntry) -> MpkitError:
    return MpkitError(f"{bundle}: {entry.file} does not match its sha256 in {MANIFEST}")


def verify(bundle: Path) -> Manifest:
    """The manifest, after checking its schema, that each listed file is a regular file inside
    the bundle named once, each file's size and sha256, and that its pose bank is one."""
    manifest = read_manifest(bundle)
    seen = set()
    for entry in [*manifest.components, *manifest.helpers]:
        if entry.file in seen:
            raise MpkitError(f"{bundle}: {entry.file} is listed twice in {MANIFEST}")
        seen.add(entry.file)
        f = bundle / entry.file
        if _regular_file(f, entry.file).st_size != entry.bytes or sha256_file(f) != entry.sha256:
            raise _mismatch(bundle, entry)
    pose_bank(bundle, manifest)
    return manifest


def pose_bank(bundle: Path, manifest: Manifest) -> PoseBank:
    """The pose bank the bundle carries (its source stage's multiview poses, the model's bank
    when it was exported), parsed for the model's views from the very bytes whose size and
    sha256 were checked."""
    entry = next((h for h in manifest.helpers if h.role == POSE_BANK), None)
    if entry is None:
        raise MpkitError(f"{bundle}: {MANIFEST} lists no {POSE_BANK!r} helper (the model's "
                         "pose bank): re-export the bundle with this mpkit (`mpkit export`)")
    from mpkit.pipeline import pose_bank as bank

    _regular_file(bundle / entry.file, entry.file)
    data = (bundle / entry.file).read_bytes()
    if len(data) != entry.bytes or hashlib.sha256(data).hexdigest() != entry.sha256:
        raise _mismatch(bundle, entry)
    try:
        return bank.parse(data, manifest.views)
    except ValueError as e:
        raise MpkitError(f"{bundle}: {entry.file}: not the model's pose bank ({e}): re-export "
                         "the bundle") from None


def _add_pose_bank(staging: Path, manifest: Manifest) -> None:
    """Copies the model's pose bank into the bundle and lists it among the helpers."""
    from mpkit.models import zoo
    from mpkit.models.config import models_dir
    from mpkit.pipeline import pose_bank as bank

    zoo.pose_bank(manifest.model_id)  # a model without a readable bank is a clear error
    shutil.copyfile(models_dir() / manifest.model_id / bank.BANK_FILE, staging / bank.BANK_FILE)
    manifest.helpers.append(HelperEntry(name=POSE_BANK, role=POSE_BANK, runtime="json",
                                        **file_entry(staging / bank.BANK_FILE)))


def _check_replaceable(out: Path) -> None:
    """`out` may be replaced only if it is empty or an mpkit bundle holding nothing else."""
    if not out.is_dir() or out.is_symlink():
        raise MpkitError(f"{out} exists and is not a folder: choose another -o")
    entries = sorted(p.name for p in out.iterdir())
    if not entries:
        return
    try:
        named = {MANIFEST, *read_manifest(out).files()}
    except MpkitError as e:
        raise MpkitError(f"{out} is not an mpkit bundle, so --force will not replace it ({e}): "
                         "choose another -o") from None
    extra = [n for n in entries
             if n not in named or not stat.S_ISREG(os.lstat(out / n).st_mode)]
    if extra:
        raise MpkitError(f"{out} holds what its manifest does not name as files "
                         f"({', '.join(extra[:5])}), so --force will not replace it: "
                         "choose another -o")


def prepare_output(out: Path, force: bool) -> Path:
    """A fresh staging folder beside `out`. A non-empty `out` needs force and must be a bundle."""
    if os.path.lexists(out):
        if out.is_dir() and not out.is_symlink() and any(out.iterdir()) and not force:
            raise MpkitError(f"{out} exists and is not empty: choose another -o or pass --force")
        _check_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))


def publish(staging: Path, manifest: Manifest, out: Path) -> None:
    """Adds the model's pose bank to the bundle (and to `manifest.helpers`), writes the
    manifest last, syncs every file, then swaps the staging folder into place: the old bundle
    is renamed aside, the new one renamed in, the old one removed. At every moment a whole
    bundle is on disk, and a failed swap puts the old one back."""
    _add_pose_bank(staging, manifest)
    (staging / MANIFEST).write_text(json.dumps(manifest.model_dump(), indent=2) + "\n")
    for f in staging.iterdir():
        fsync_path(f)
    fsync_path(staging)
    if not os.path.lexists(out):
        os.rename(staging, out)
        fsync_path(out.parent)
        return
    _check_replaceable(out)
    old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old."))
    os.rename(out, old / out.name)
    try:
        os.rename(staging, out)
    except BaseException:
        os.rename(old / out.name, out)
        old.rmdir()
        raise
    fsync_path(out.parent)
    shutil.rmtree(old)
