"""`mpkit export` on the smallest variant: real lowering, host validation, bundles."""

import json
import shutil

import pytest
import torch

from mpkit.audio.features import load_spec
from mpkit.errors import MpkitError, UnknownNameError
from mpkit.export import bundle
from mpkit.export.backends import get_backend
from mpkit.export.pipeline import export
from mpkit.export.recipes import load_calibration, load_recipe
from mpkit.models import zoo


@pytest.fixture(scope="module", params=["executorch-xnnpack", "tflite"])
def exported(request, fp32_bundle):
    return fp32_bundle(request.param)


@pytest.fixture(scope="module")
def tflite_bundle(fp32_bundle):
    return fp32_bundle("tflite")


def test_fp32_bundle_matches_eager_float(exported):
    m = exported.manifest
    assert m.trained  # validated with the shipped weights, not a flat untrained output
    default = m.validation["end_to_end"][m.delegates[0]]  # tflite: cpu; xnnpack: xnnpack
    assert m.validation["passed"] and default["frames"] == 24
    assert m.validation["selection"] is None  # a fixed recipe chooses nothing
    assert default["psnr_db_min"] >= 60
    names = [c.name for c in m.components]
    assert names == ["keypoints", "dense_motion", "synthesis", "multiview"]
    for c in m.components:
        assert all(v >= 60 for v in c.validation[m.delegates[0]].values()), (c.name, c.validation)
    assert {h.role for h in m.helpers} == {"face_detector", "face_mesh", "segmenter",
                                           "sample_source", "sample_driving", "pose_bank"}
    assert m.warp == ("gather" if m.runtime == "litert" else "grid_sample")
    assert bundle.verify(exported.out).model_id == "mp-tiny"


def test_tflite_bundle_has_no_gather_nd(tflite_bundle):
    from ai_edge_litert.interpreter import Interpreter

    for c in tflite_bundle.manifest.components:
        ops = {op["op_name"] for op in Interpreter(
            model_path=str(tflite_bundle.out / c.file))._get_ops_details()}
        assert "GATHER_ND" not in ops and "BROADCAST_TO" not in ops, c.name


# Known failure, kept visible: with the shipped (issue-16) mp-tiny, ExecuTorch-XNNPACK's int8
# dense_motion gives a deformation at 1.8 dB SQNR, 8.9 dB end to end against the 30 dB gate,
# where TFLite's int8 dense_motion gives 54.5 dB and 51.9 dB. Strict: it fails once it passes.
ET_MIXED_BELOW_GATE = pytest.mark.xfail(strict=True, raises=MpkitError,
                                        reason="executorch-xnnpack int8 dense_motion breaks the "
                                               "deformation (1.8 dB SQNR)")


@pytest.fixture(scope="module", params=[
    ("tflite", "fp16", 40, True), ("tflite", "mixed", 30, False),
    pytest.param(("executorch-xnnpack", "mixed", 30, False), marks=ET_MIXED_BELOW_GATE)],
    ids=lambda p: f"{p[0]}-{p[1]}{'-audio' if p[3] else ''}")
def quantized(request, asset, tmp_path_factory):
    backend, recipe, gate, audio = request.param
    out = tmp_path_factory.mktemp("quantized") / f"{backend}-{recipe}"
    # The default delegate only: the software GPU's checks take minutes per bundle (the fp32
    # bundle runs them).
    return export("mp-tiny", backend, recipe, out, zoo.default_checkpoint("mp-tiny"),
                  delegates=(), audio=audio), gate


def test_quantized_bundle_passes_its_gate_on_other_faces(quantized, fp32_bundle):
    result, gate = quantized
    m = result.manifest
    fp32 = {c.name: c for c in fp32_bundle(m.backend).manifest.components}
    assert m.validation["validation"] == "validation" and m.validation["passed"]
    assert m.validation["end_to_end"][m.delegates[0]]["psnr_db_min"] >= gate
    assert len(m.delegates) == 1  # the default delegate only: the others were not asked for
    quantized_parts = (load_recipe(m.recipe).quantize.components
                       or [c.name for c in m.components])
    for c in m.components:
        if c.stage == "audio":  # not in the fp32 bundle: its own checks below
            assert c.precision == (m.precision if c.name in quantized_parts else "fp32")
        elif c.name in quantized_parts:
            assert c.precision == m.precision
            assert c.bytes < 0.7 * fp32[c.name].bytes, (c.name, c.bytes, fp32[c.name].bytes)
        else:
            assert c.precision == "fp32" and all(
                v >= 60 for v in c.validation[m.delegates[0]].values())
    assert bundle.verify(result.out).recipe == m.recipe
    if m.audio_features:
        _check_audio(m, gate)


def _check_audio(m: bundle.Manifest, gate: float) -> None:
    """The audio component of bundle `m`: its front end's settings recorded, its outputs and the
    speech-driven frames compared with eager float on every check the bundle ran."""
    (audio,) = [c for c in m.components if c.stage == "audio"]
    assert m.audio_features == load_spec()
    assert [i.name for i in audio.inputs] == ["mel", "kp_source"]
    assert audio.inputs[0].shape == [1, m.audio_features.mels, 1, m.audio_features.context]
    checks = list(m.validation["end_to_end"])
    assert list(audio.validation) == checks
    for check in checks:
        assert set(audio.validation[check]) == {"kp_driving_sqnr_db", "mouth_sqnr_db"}
        speech = m.validation["end_to_end_speech"][check]
        assert speech["frames"] == 24 and speech["psnr_db_min"] >= gate, (check, speech)


def test_export_audio_adds_the_audio_component_validated_on_speech(asset, tmp_path, run_cli):
    out = tmp_path / "b"
    code, stdout, err = run_cli("export", "mp-tiny", "--backend", "executorch-xnnpack",
                                "--audio", "-o", out)
    assert code == 0, err
    assert "driven by speech: end-to-end PSNR min xnnpack" in stdout
    m = bundle.verify(out)
    _check_audio(m, load_recipe("fp32").gate.end_to_end_psnr_db)
    (audio,) = [c for c in m.components if c.name == "audio"]
    assert min(audio.validation["xnnpack"].values()) > 80  # fp32: float rounding only


def test_export_audio_needs_an_audio_driver_and_a_fixed_recipe(asset, tmp_path, run_cli):
    code, _, err = run_cli("export", "mp-tiny-nk", "--backend", "tflite", "--audio",
                           "-o", tmp_path / "nk")
    assert code == 1 and "model mp-tiny-nk has no audio driver" in err
    with pytest.raises(MpkitError, match="export --audio with a fixed recipe"):
        export("mp-tiny", "tflite", "auto", tmp_path / "a", audio=True)
    code, _, err = run_cli("export", "mp-tiny", "--backend", "tflite", "--audio-checkpoint",
                           tmp_path / "x.safetensors", "-o", tmp_path / "c")
    assert code == 2 and "--audio-checkpoint needs --audio" in err
    assert not any(tmp_path.iterdir())


def test_tflite_metadata_names_every_tensor(quantized):
    from mpkit.export.tflite_metadata import read_metadata

    result, _ = quantized
    if result.manifest.runtime != "litert":
        pytest.skip("TFLite metadata only")
    for c in result.manifest.components:
        graph = read_metadata(result.out / c.file)["subgraph_metadata"][0]
        assert [t["name"] for t in graph["input_tensor_metadata"]] == [i.name for i in c.inputs]
        assert [t["name"] for t in graph["output_tensor_metadata"]] == [o.name for o in c.outputs]


def test_tflite_int8_quantizes_a_convolution_over_32_mib(tmp_path):
    # mp-16g's widest convolutions have weights over 32 MiB, where ai-edge-quantizer 0.10.0 took
    # a path that could not broadcast per-channel scales; each output channel here has its own
    # range, so a scale on the wrong channel shows in the SQNR.
    import litert_torch
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    from mpkit.export.backends.tflite import quantize_tflite
    from mpkit.export.validate import sqnr_db

    net = torch.nn.Sequential(torch.nn.Conv2d(1024, 1024, 3, padding=1)).eval()
    with torch.no_grad():
        net[0].weight *= torch.logspace(-2, 0, 1024)[:, None, None, None]
    assert net[0].weight.numel() * 4 > 32 * 2**20
    x = torch.randn(1, 1024, 4, 4, generator=torch.Generator().manual_seed(0))
    path = tmp_path / "conv.tflite"
    litert_torch.convert(net, (x,)).export(str(path))
    quantized = quantize_tflite(path.read_bytes(), load_recipe("mixed"), [(x,)])
    interpreter = Interpreter(model_content=quantized)
    assert np.int8 in {t["dtype"] for t in interpreter.get_tensor_details()}
    got = interpreter.get_signature_runner()(args_0=x.numpy())
    assert sqnr_db(net(x).detach().numpy(), next(iter(got.values()))) > 30


def test_xnnpack_int8_everywhere_compiles_the_tps_solve(tmp_path):
    # Its elimination steps share one constant bias: quantized for the first step only, it made
    # a float convolution with an int32 bias, which XNNPACK refused to compile.
    from mpkit.export.validate import sqnr_db
    from mpkit.models.tps import PivotedSolver

    class Solve(torch.nn.Module):  # a part of a model, as in dense_motion
        def __init__(self):
            super().__init__()
            self.solver = PivotedSolver(8)

        def forward(self, a, b):
            return self.solver(a, b)

    g = torch.Generator().manual_seed(0)
    a = torch.randn(8, 10, 8, 8, generator=g)
    calls = [(x @ x.transpose(-1, -2) + torch.eye(8), torch.randn(10, 8, 2, generator=g))
             for x in a]
    backend, path = get_backend("executorch-xnnpack"), tmp_path / "solver.pte"
    backend.lower(Solve().eval(), calls[0], load_recipe("int8"), calls, path)
    got = backend.host_runner(path)(*(x.numpy() for x in calls[1]))[0]
    assert sqnr_db(torch.linalg.solve(*calls[1]).numpy(), got) > 20  # int8 inputs


def test_int8_everywhere_loads_and_fails_its_gate_naming_the_worst_component(asset, tmp_path):
    # int8 everywhere compiles now (the TPS solve stays float) and is measured: far under 30 dB.
    with pytest.raises(MpkitError, match=r"int8: end-to-end PSNR .* below the recipe's gate of "
                                         r"30.0 dB \(worst component: (keypoints|dense_motion|"
                                         r"synthesis|multiview) \w+ at [\d.]+ dB SQNR\): use a "
                                         r"recipe that keeps more in float"):
        export("mp-tiny", "executorch-xnnpack", "int8", tmp_path / "b",
               zoo.default_checkpoint("mp-tiny"))
    assert list(tmp_path.iterdir()) == []


def test_recipe_a_backend_cannot_run_lists_what_it_can(asset, tmp_path):
    with pytest.raises(MpkitError, match="does not support recipe int8 .*supports fp32, fp16, mixed"):
        export("mp-tiny", "tflite", "int8", tmp_path / "b")


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


def test_auto_recipe_chooses_on_selection_faces_and_reports_on_validation_faces(tflite_bundle,
                                                                                tmp_path):
    out = shutil.copytree(tflite_bundle.out, tmp_path / "b")  # --force replaces a real bundle
    # The gate is judged on faces the choice never saw, where it may fail: keep the bundle.
    result = export("mp-tiny", "tflite", "auto", out, zoo.default_checkpoint("mp-tiny"),
                    force=True, ignore_gate=True, delegates=())
    m = result.manifest
    assert [p.name for p in tmp_path.iterdir()] == ["b"]
    assert (m.validation["selection"], m.validation["validation"]) == ("selection", "validation")
    decisions = {d["component"]: d for d in m.validation["auto"]}
    assert all(d["why"].endswith("on the selection faces") for d in decisions.values())
    assert list(decisions) == ["synthesis", "dense_motion", "keypoints", "multiview"]  # by cost
    for c in m.components:
        d = decisions[c.name]
        assert c.precision == ("fp32" if d["chosen"] == "fp32" else load_recipe(d["chosen"]).precision)
        # int8 everywhere is not a TFLite candidate; the cheapest one that passed was kept
        assert [t["recipe"] for t in d["tried"]][0] == "mixed"
        passed = [t["recipe"] for t in d["tried"] if t["psnr_db_min"] >= 35]
        assert d["chosen"] == (passed[0] if passed else "fp32")
    assert decisions["synthesis"]["chosen"] != "fp32"
    # The bundle as chosen scored `accepted[-1]` on the selection faces; the figure it reports
    # is measured again on the validation faces, and its gate is judged there.
    accepted = [t["psnr_db_min"] for d in m.validation["auto"] for t in d["tried"]
                if t["recipe"] == d["chosen"]]
    e2e = m.validation["end_to_end"]["cpu"]
    assert e2e["frames"] == 24 and e2e["psnr_db_min"] != accepted[-1]
    assert m.validation["passed"] == (e2e["psnr_db_min"] >= 35)
    assert bundle.verify(result.out).precision == "auto"
    assert not list(result.out.glob(".trial-*"))


def test_vulkan_fp16_bundle_is_lowered_ahead_of_time(asset, tmp_path):
    result = export("mp-tiny", "executorch-vulkan", "fp16", tmp_path / "vk",
                    zoo.default_checkpoint("mp-tiny"))
    m = result.manifest
    assert m.precision == "fp16" and m.validation["host_validated"] is False
    assert "end_to_end" not in m.validation  # nothing here can run a Vulkan .pte
    assert m.delegates == ["vulkan"] and m.validation["delegates"]["vulkan"]["checks"] == []
    assert all(c.precision == "fp16" and c.file.endswith(".pte") and c.bytes > 100_000
               for c in m.components)
    # fp16 halves the weights: synthesis (0.6 M params) is under 1.3 MB
    assert next(c for c in m.components if c.name == "synthesis").bytes < 1.3e6
    assert bundle.verify(result.out).backend == "executorch-vulkan"


GPU_CHECKS = ("cpu", "gpu_fp16", "gpu_fp32")


def test_tflite_bundle_is_validated_on_the_cpu_and_the_real_gpu_accelerator(tflite_bundle):
    """Every component and the whole pipeline on LiteRT's CPU path and its GPU accelerator
    (software Vulkan device), at fp16 compute (phones' default) and fp32: all within the gate,
    so the bundle claims both delegates."""
    m = tflite_bundle.manifest
    gate = m.validation["gate"]["end_to_end_psnr_db"]
    assert m.delegates == ["cpu", "gpu"], m.validation["delegates"]
    assert m.validation["delegates"]["gpu"]["claimed"] and m.validation["passed"]
    for c in m.components:
        assert tuple(c.validation) == GPU_CHECKS, c.name
        for check in GPU_CHECKS:
            assert c.validation[check] and all(v >= gate for v in c.validation[check].values()), \
                (c.name, check, c.validation[check])
    for check in GPU_CHECKS:
        e2e = m.validation["end_to_end"][check]
        assert e2e["frames"] == 24 and e2e["psnr_db_min"] >= gate, (check, e2e)
    assert bundle.verify(tflite_bundle.out).delegates == ["cpu", "gpu"]
    # SwiftShader computes fp32 even where fp16 is allowed: the manifest says so, it does not
    # pass gpu_fp16 off as fp16 numerics.
    assert [c.validation["gpu_fp16"] for c in m.components] == \
        [c.validation["gpu_fp32"] for c in m.components]
    assert "fp16 rounding (a phone's default) is not measured here" in \
        m.validation["delegates"]["gpu"]["note"]


def test_without_the_gpu_driver_the_export_claims_cpu_only_and_says_how_to_get_it(
        asset, tmp_path, monkeypatch):
    """The ICD file points at a driver that is not there (set through the gpu package's own
    driver folder setting): the export validates on the CPU, claims cpu only, and names the
    fix, `mpkit gpu setup`."""
    from mpkit.gpu import software

    folder = tmp_path / "driver"
    folder.mkdir()
    missing = str(folder / "libvk_swiftshader.so")
    (folder / "icd.json").write_text(json.dumps(
        {"file_format_version": "1.0.0", "ICD": {"library_path": missing, "api_version": "1.0.5"}}))
    (folder / "driver.json").write_text(json.dumps(
        {"driver": missing, "package": software.PACKAGE, "package_version": "0"}))
    monkeypatch.setenv(software.DRIVER_DIR_ENV, str(folder))
    said = []
    m = export("mp-tiny", "tflite", "fp32", tmp_path / "b", zoo.default_checkpoint("mp-tiny"),
               progress=said.append).manifest
    assert m.delegates == ["cpu"] and m.validation["passed"]
    gpu = m.validation["delegates"]["gpu"]
    assert gpu["claimed"] is False and "run `mpkit gpu setup`" in gpu["why"], gpu
    assert any(s.startswith("gpu is not claimed") and "mpkit gpu setup" in s for s in said)
    assert all(tuple(c.validation) == ("cpu",) for c in m.components)
    assert list(m.validation["end_to_end"]) == ["cpu"]
