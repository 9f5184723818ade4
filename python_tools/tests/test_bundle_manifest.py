"""Bundle format on small bundles built by the code (real files, a manifest written by
`publish`): file names confined to the bundle, malformed manifests, and `--force` that only
ever replaces a bundle; the pose bank every bundle carries, on real exports too."""

import json
import re
from pathlib import Path

import pytest

from mpkit.audio.features import load_spec
from mpkit.errors import MpkitError
from mpkit.export import bundle
from mpkit.export.bundle import MANIFEST
from mpkit.media.assets import sha256_file

GOLDEN = Path(__file__).resolve().parents[2] / "testdata/manifest/manifest_tflite_fp32.json"


def make_bundle(out: Path, payload: str = "v1", force: bool = False) -> Path:
    """The golden manifest's bundle with small real files in place of the models; `publish`
    adds the model's pose bank, as it does for an export."""
    data = json.loads(GOLDEN.read_text())
    data["helpers"] = [h for h in data["helpers"] if h["role"] != bundle.POSE_BANK]
    staging = bundle.prepare_output(out, force)
    for e in [*data["components"], *data["helpers"]]:
        path = staging / e["file"]
        path.write_text(f"{e['name']} {payload}\n")
        e.update(bundle.file_entry(path))
    bundle.publish(staging, bundle.Manifest(**data), out)
    return out


def edit_manifest(b: Path, change) -> None:
    data = json.loads((b / MANIFEST).read_text())
    change(data)
    (b / MANIFEST).write_text(json.dumps(data))


def point_helper_at(b: Path, name: str, target: Path) -> None:
    """The first helper's file becomes `name`, with the size and sha256 of `target` (the file
    that name reaches), so only the name itself can give it away."""
    edit_manifest(b, lambda d: d["helpers"][0].update(
        file=name, sha256=sha256_file(target), bytes=target.stat().st_size))


@pytest.fixture()
def small(tmp_path):
    return make_bundle(tmp_path / "b")


def test_a_bundle_built_by_the_code_verifies(small):
    assert bundle.verify(small).model_id == "mp-tiny"


def _escape_up(b):
    (b.parent / "x").write_text("outside the bundle\n")
    return "../x", b.parent / "x"


def _subfolder(b):
    (b / "a").mkdir()
    (b / "a/b").write_text("in a subfolder\n")
    return "a/b", b / "a/b"


def _symlink(b):
    (b / "hostname").symlink_to("/etc/hostname")
    return "hostname", Path("/etc/hostname")


PROBES = {
    "dotdot": (_escape_up, r"'\.\./x' is not a plain file name in the bundle: it climbs out"),
    "absolute": (lambda b: ("/etc/hostname", Path("/etc/hostname")),
                 "'/etc/hostname' is not a plain file name in the bundle: it is an absolute path"),
    "subfolder": (_subfolder, "'a/b' is not a plain file name in the bundle: it names a subfolder"),
    "symlink": (_symlink, "hostname is a symlink; a bundle holds only regular files"),
}


@pytest.mark.parametrize("probe", PROBES, ids=list(PROBES))
def test_traversal_probes_are_refused_naming_the_cause(small, probe, run_cli):
    make, message = PROBES[probe]
    point_helper_at(small, *make(small))
    with pytest.raises(MpkitError, match=message):
        bundle.verify(small)
    code, _, err = run_cli("bundle", "verify", small)
    assert code == 1 and err.startswith("error: ") and re.search(message, err), err


@pytest.mark.parametrize("name, cause", [
    ("", "it is empty"), ("a\0b", "NUL byte"), ("a\\b", "names a subfolder"),
    ("..", "climbs out"), (".", "the bundle folder itself"), ("x\n.tflite", "control character"),
    ("\\\\host\\share", "absolute path"), ("manifest.json", "the manifest itself"),
    ("x" * 256, "longer than 255 bytes")])
def test_unsafe_file_names_are_refused(small, name, cause):
    edit_manifest(small, lambda d: d["components"][0].update(file=name))
    with pytest.raises(MpkitError, match=f"components.0.file: .*{cause}"):
        bundle.verify(small)


def test_a_file_listed_twice_is_refused(small):
    edit_manifest(small, lambda d: d["helpers"][1].update(d["helpers"][0]))
    with pytest.raises(MpkitError, match="face_detection_short_range.tflite is listed twice"):
        bundle.verify(small)


def _deep(d):
    d["validation"]["x"] = json.loads("[" * 40 + "]" * 40)


MALFORMED = {
    "list": (lambda b: b.write_text("[1, 2]"), "a JSON list, not an object"),
    "very deep": (lambda b: b.write_text("[" * 200_000 + "]" * 200_000), "nested"),
    "deep": (lambda b: edit_manifest(b.parent, _deep), "nested more than 32 levels deep"),
    "not utf-8": (lambda b: b.write_bytes(b.read_bytes().replace(b"mp-tiny", b"mp-\xff")),
                  r"not UTF-8 text \(byte \d+\)"),
    "oversized": (lambda b: b.write_text(b.read_text() + " " * (1 << 20)),
                  "over the 1048576 byte limit"),
    "schema": (lambda b: edit_manifest(b.parent, lambda d: (
        d["components"][1].update(bytes="many"), d["helpers"][0].update(colour="red"))),
        r"components\.1\.bytes: Input should be a valid integer.* \(and 1 more problem\)$"),
    "not json": (lambda b: b.write_text('{"schema_version": 1,'), "not valid JSON"),
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_malformed_manifest_is_one_clean_error(small, case, run_cli):
    spoil, message = MALFORMED[case]
    spoil(small / MANIFEST)
    with pytest.raises(MpkitError, match=message):
        bundle.verify(small)
    code, _, err = run_cli("bundle", "verify", small)
    assert code == 1 and err.startswith("error: ") and err.count("\n") == 1, err


def test_force_replaces_a_bundle_and_leaves_nothing_beside_it(small):
    make_bundle(small, payload="v2", force=True)
    assert (small / "obama.jpg").read_text() == "sample_source v2\n"
    assert bundle.verify(small).model_id == "mp-tiny"
    assert [p.name for p in small.parent.iterdir()] == ["b"]


def test_force_refuses_a_folder_that_is_not_a_bundle(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(MpkitError, match="not an mpkit bundle, so --force will not replace it"):
        bundle.prepare_output(out, force=True)
    assert (out / "keep.txt").read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_force_refuses_a_bundle_holding_anything_else(small):
    (small / "notes.txt").write_text("mine")
    (small / "obama.jpg").unlink()
    (small / "obama.jpg").mkdir()  # named by the manifest, but a folder
    with pytest.raises(MpkitError, match=r"holds what its manifest does not name as files "
                                         r"\(notes.txt, obama.jpg\)"):
        make_bundle(small, payload="v2", force=True)
    assert (small / "notes.txt").read_text() == "mine"


def test_force_refuses_a_file_or_a_symlink(tmp_path, small):
    (tmp_path / "file").write_text("mine")
    (tmp_path / "link").symlink_to(small)
    for name in ("file", "link"):
        with pytest.raises(MpkitError, match="exists and is not a folder"):
            bundle.prepare_output(tmp_path / name, force=True)
    assert (tmp_path / "file").read_text() == "mine" and bundle.verify(tmp_path / "link")


def test_a_failed_swap_puts_the_old_bundle_back(small, monkeypatch):
    data = json.loads((small / MANIFEST).read_text())
    staging = bundle.prepare_output(small, force=True)
    rename = bundle.os.rename

    def fail_moving_the_new_one_in(src, dst):
        if Path(src) == staging:
            raise OSError(5, "Input/output error")
        rename(src, dst)

    monkeypatch.setattr(bundle.os, "rename", fail_moving_the_new_one_in)
    with pytest.raises(OSError):
        bundle.publish(staging, bundle.Manifest(**data), small)
    assert bundle.verify(small)
    assert sorted(p.name for p in small.parent.iterdir()) == sorted(["b", staging.name])


def test_export_force_on_a_folder_with_a_file_refuses_and_keeps_it(asset, tmp_path, run_cli,
                                                                 monkeypatch):
    (tmp_path / "keep.txt").write_text("mine")
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli("export", "mp-tiny", "--backend", "tflite", "-o", ".", "--force")
    assert code == 1 and "is not an mpkit bundle, so --force will not replace it" in err
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


NOT_VALIDATED = (r"not validated for delegate 'gpu'.*it is validated for: cpu: run it with one "
                 "of those")


def _cpu_only(b: Path) -> Path:
    """The bundle as an export on a host without the GPU driver writes it: gpu not claimed."""
    def change(d):
        d["delegates"] = ["cpu"]
        d["validation"]["delegates"]["gpu"].update(
            claimed=False, passed=None, why="not validated: the GPU driver is not set up")
    edit_manifest(b, change)
    return b


def test_a_delegate_the_bundle_was_not_validated_for_is_refused_naming_the_list(small):
    manifest = bundle.verify(_cpu_only(small))
    assert manifest.delegate() == manifest.delegate("cpu") == "cpu"
    with pytest.raises(MpkitError, match=NOT_VALIDATED) as e:
        manifest.delegate("gpu")
    assert "the GPU driver is not set up" in str(e.value)  # why, from the manifest


def test_the_virtual_devices_app_refuses_an_unvalidated_delegate(small, tmp_path):
    from mpkit.bench.protocol import BenchRequest
    from mpkit.gpu import software
    from mpkit.vdevice import app

    request = BenchRequest(run_id="r", bundle_dir="unused", delegate="gpu", frames=1)
    result = app.run(request, _cpu_only(small), tmp_path, env=software.child_env(), timeout_s=300)
    assert result["status"] == "error" and result.get("times") is None
    assert re.search(NOT_VALIDATED, result["error"]), result["error"]


def test_the_bench_harness_refuses_an_unvalidated_delegate_before_running(small):
    from mpkit.bench.runner import BenchSpec, plan

    assert {c.delegate for c in plan(BenchSpec(bundles=[str(small)], delegates=["gpu", None]))} \
        == {"gpu", "cpu"}
    with pytest.raises(MpkitError, match=NOT_VALIDATED):
        plan(BenchSpec(bundles=[str(_cpu_only(small))], delegates=["cpu", "gpu"]))


@pytest.mark.parametrize("version, change", [
    (1, "per-delegate validation"), (2, "the pose bank in the bundle"),
    (3, "audio components and their front end's settings")])
def test_an_older_schema_is_refused_naming_what_it_lacks_and_the_fix(small, version, change):
    edit_manifest(small, lambda d: d.update(schema_version=version))
    with pytest.raises(MpkitError, match=rf"schema version {version} is not 4; it predates "
                                         rf"{re.escape(change)} .*: re-export the bundle"):
        bundle.verify(small)


def _with_audio(b: Path, features: bool):
    """An edit adding an audio-stage component (the first entry's I/O, a small real file of
    its own) and, with `features`, the front end's settings."""
    (b / "audio.tflite").write_text("audio v1\n")

    def change(data: dict) -> None:
        data["components"].append({**data["components"][0], "name": "audio", "stage": "audio",
                                   **bundle.file_entry(b / "audio.tflite")})
        data["audio_features"] = load_spec().model_dump() if features else None
        data["audio_checkpoint_sha256"] = "ab" * 32

    return change


def test_an_audio_component_comes_with_the_front_ends_settings_and_only_with_one(small):
    good = json.loads((small / MANIFEST).read_text())
    edit_manifest(small, _with_audio(small, features=True))
    assert bundle.verify(small).audio_features == load_spec()
    edit_manifest(small, lambda d: d.update(good))
    edit_manifest(small, _with_audio(small, features=False))
    with pytest.raises(MpkitError, match="component 'audio' is in stage 'audio' but "
                                         "audio_features is null"):
        bundle.verify(small)
    edit_manifest(small, lambda d: d.update(audio_features=load_spec().model_dump(),
                                            audio_checkpoint_sha256=None,
                                            components=d["components"][:4]))
    with pytest.raises(MpkitError, match="audio_features is set but no component is in stage"):
        bundle.verify(small)


MODEL_BANK = Path(__file__).resolve().parents[2] / "models/mp-tiny/pose_bank.json"


def _bank_entry(b: Path) -> dict:
    (entry,) = [h for h in json.loads((b / MANIFEST).read_text())["helpers"]
                if h["role"] == bundle.POSE_BANK]
    return entry


def test_publish_puts_the_models_pose_bank_in_the_bundle(small):
    entry = _bank_entry(small)
    assert entry == {"name": "pose_bank", "file": "pose_bank.json", "role": "pose_bank",
                     "runtime": "json", **bundle.file_entry(MODEL_BANK)}
    assert (small / entry["file"]).read_bytes() == MODEL_BANK.read_bytes()


def _other_bank(views: int = 4) -> str:
    data = json.loads(MODEL_BANK.read_text())
    data["affines"] = [[[1.0, 0.0, 0.1 * t], [0.0, 1.0, 0.0]] for t in range(views)]
    data["views"] = views
    return json.dumps(data)


def test_a_pose_bank_with_a_wrong_hash_is_refused_naming_the_file(small, run_cli):
    (small / "pose_bank.json").write_text(_other_bank())
    with pytest.raises(MpkitError, match="pose_bank.json does not match its sha256"):
        bundle.verify(small)
    code, _, err = run_cli("bundle", "verify", small)
    assert code == 1 and "pose_bank.json does not match its sha256" in err, err


def test_a_pose_bank_for_another_view_count_is_refused(small):
    (small / "pose_bank.json").write_text(_other_bank(views=3))
    edit_manifest(small, lambda d: d["helpers"][-1].update(
        bundle.file_entry(small / "pose_bank.json")))
    with pytest.raises(MpkitError, match=r"pose_bank.json: not the model's pose bank \(3 poses, "
                                         r"the model has views: 4\): re-export"):
        bundle.verify(small)


def test_a_schema_3_manifest_without_the_pose_bank_is_refused(small):
    edit_manifest(small, lambda d: d.update(helpers=d["helpers"][:-1]))
    with pytest.raises(MpkitError, match="lists no 'pose_bank' helper .*: re-export the bundle"):
        bundle.verify(small)


@pytest.mark.parametrize("delegates", [[], ["cpu", "cpu"]])
def test_a_bundle_claims_each_delegate_once_and_at_least_one(small, delegates):
    edit_manifest(small, lambda d: d.update(delegates=delegates))
    with pytest.raises(MpkitError, match="delegates: .*names each delegate it claims once"):
        bundle.verify(small)


@pytest.fixture(scope="module", params=["executorch-xnnpack", "tflite"])
def exported(request, fp32_bundle):
    return fp32_bundle(request.param)


def test_every_exported_bundle_carries_the_models_pose_bank(exported):
    from mpkit.models import zoo

    manifest = bundle.verify(exported.out)
    assert manifest.helpers == exported.manifest.helpers  # what export returned is on disk
    assert (exported.out / _bank_entry(exported.out)["file"]).read_bytes() \
        == MODEL_BANK.read_bytes()
    carried, model = bundle.pose_bank(exported.out, manifest), zoo.pose_bank("mp-tiny")
    assert manifest.views == model.views == 4
    assert (carried.affines == model.affines).all() and carried.affines.dtype == "float32"


def _run_app(b: Path, results: Path, models: Path) -> dict:
    from mpkit.bench.protocol import BenchRequest
    from mpkit.gpu import software
    from mpkit.vdevice import app

    results.mkdir()
    request = BenchRequest(run_id="r", bundle_dir="unused", frames=1, warmup=0,
                           capture_frames=1)
    result = app.run(request, b, results, timeout_s=600,
                     env={**software.child_env(), "MPKIT_MODELS_DIR": str(models)})
    assert result["status"] == "ok", result.get("error")
    return result


def test_the_virtual_devices_app_uses_the_bundles_pose_bank(exported, tmp_path):
    """The app runs with a models/ folder that has no pose bank (only model.yaml), so the
    bank can only come from the bundle; a bundle carrying another bank renders another frame."""
    import shutil

    from mpkit.media.image import read_image
    from mpkit.models.config import models_dir

    if exported.manifest.backend != "tflite":
        pytest.skip("one backend is enough: the app reads the bank the same way for both")
    models = tmp_path / "models"
    (models / "mp-tiny").mkdir(parents=True)
    shutil.copy(models_dir() / "mp-tiny/model.yaml", models / "mp-tiny")
    _run_app(exported.out, tmp_path / "own", models)
    other = tmp_path / "other"
    shutil.copytree(exported.out, other)
    (other / "pose_bank.json").write_text(_other_bank())
    edit_manifest(other, lambda d: d["helpers"][-1].update(
        bundle.file_entry(other / "pose_bank.json")))
    _run_app(other, tmp_path / "moved", models)
    own, moved = (read_image(tmp_path / run / "r/frame_0000.png") for run in ("own", "moved"))
    assert own.shape == moved.shape and (own != moved).any()
