"""`mpkit export` on the smallest variant: real lowering, host validation, bundles."""

import json
import shutil

import pytest

from mpkit.errors import MpkitError, UnknownNameError
from mpkit.export import bundle
from mpkit.export.backends import get_backend
from mpkit.export.pipeline import export
from mpkit.export.recipes import load_calibration, load_recipe
from mpkit.models import zoo


_bundles = {}


def _bundle(backend, tmp_path_factory):
    """Each backend's fp32 bundle, exported once for the whole module."""
    if backend not in _bundles:
        _bundles[backend] = export("mp-tiny", backend, "fp32",
                                   tmp_path_factory.mktemp("bundles") / backend,
                                   zoo.default_checkpoint("mp-tiny"))
    return _bundles[backend]


@pytest.fixture(scope="module", params=["executorch-xnnpack", "tflite"])
def exported(request, asset, tmp_path_factory):
    return _bundle(request.param, tmp_path_factory)


@pytest.fixture(scope="module")
def tflite_bundle(asset, tmp_path_factory):
    return _bundle("tflite", tmp_path_factory)


def test_fp32_bundle_matches_eager_float(exported):
    m = exported.manifest
    assert m.trained  # validated with the shipped weights, not a flat untrained output
    assert m.validation["passed"] and m.validation["end_to_end"]["frames"] == 24
    assert m.validation["end_to_end"]["psnr_db_min"] >= 60
    names = [c.name for c in m.components]
    assert names == ["keypoints", "dense_motion", "synthesis", "multiview"]
    for c in m.components:
        assert all(v >= 60 for v in c.validation.values()), (c.name, c.validation)
    assert {h.role for h in m.helpers} == {"face_detector", "face_mesh", "segmenter",
                                           "sample_source", "sample_driving"}
    assert m.warp == ("embed" if m.runtime == "litert" else "grid_sample")
    assert bundle.verify(exported.out).model_id == "mp-tiny"


def test_tflite_bundle_has_no_gather_nd(tflite_bundle):
    from ai_edge_litert.interpreter import Interpreter

    for c in tflite_bundle.manifest.components:
        ops = {op["op_name"] for op in Interpreter(
            model_path=str(tflite_bundle.out / c.file))._get_ops_details()}
        assert "GATHER_ND" not in ops and "BROADCAST_TO" not in ops, c.name


def test_tampered_bundle_fails_verify_naming_the_file(exported, tmp_path):
    copy = tmp_path / "b"
    shutil.copytree(exported.out, copy)
    target = copy / exported.manifest.components[2].file
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 1
    target.write_bytes(bytes(data))
    with pytest.raises(MpkitError, match=f"{target.name} does not match its sha256"):
        bundle.verify(copy)


def test_newer_schema_is_a_clear_error(exported, tmp_path):
    copy = tmp_path / "b"
    shutil.copytree(exported.out, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["schema_version"] = 99
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(MpkitError, match="schema version 99"):
        bundle.verify(copy)


def test_unknown_backend_and_recipe_list_the_valid_ones(asset, tmp_path):
    with pytest.raises(UnknownNameError, match="known: executorch-xnnpack, executorch-vulkan"):
        get_backend("coreml")
    with pytest.raises(UnknownNameError, match="unknown recipe 'int4'; known: .*fp32"):
        load_recipe("int4")


def test_recipe_typo_names_key_and_file(tmp_path, monkeypatch):
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes/odd.yaml").write_text(
        "name: odd\ndescription: x\nprecision: fp32\ngate: {end_to_end_psnr_db: 60}\nkeep_flaot: [warp]\n")
    monkeypatch.setenv("MPKIT_QUANTIZATION_DIR", str(tmp_path))
    with pytest.raises(MpkitError, match=r"odd.yaml: keep_flaot: Extra inputs"):
        load_recipe("odd")


def test_calibration_naming_a_missing_file(asset, tmp_path, monkeypatch):
    (tmp_path / "calibration").mkdir()
    (tmp_path / "calibration/faces.yaml").write_text(
        "name: faces\nsources: [obama.jpg, lincoln.jpg]\ndriving: {video: carphone.mp4, frames: 2}\n")
    monkeypatch.setenv("MPKIT_QUANTIZATION_DIR", str(tmp_path))
    with pytest.raises(MpkitError, match="calibration file 'lincoln.jpg' is not an asset"):
        load_calibration()


def test_qnn_without_sdk_names_the_variable(asset, tmp_path, monkeypatch):
    monkeypatch.delenv("QNN_SDK_ROOT", raising=False)
    with pytest.raises(MpkitError, match="set QNN_SDK_ROOT"):
        export("mp-tiny", "executorch-qnn", "fp32", tmp_path / "q")
    assert not (tmp_path / "q").exists()


def test_non_empty_output_needs_force(asset, tmp_path, run_cli):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, err = run_cli("export", "mp-tiny", "--backend", "tflite", "-o", out)
    assert code == 1 and "not empty: choose another -o or pass --force" in err
    assert (out / "keep.txt").read_text() == "mine"


def test_interrupted_export_leaves_no_half_bundle(asset, tmp_path):
    def interrupt(message):
        if message.startswith("lowering"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export("mp-tiny", "tflite", "fp32", tmp_path / "b", progress=interrupt)
    assert list(tmp_path.iterdir()) == []
