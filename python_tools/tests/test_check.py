"""`mpkit check`: op placement read from the real lowered programs and converted files."""

import json

import pytest

from mpkit.export.check import check
from mpkit.models import zoo


def _sites(report, target):
    return {w.component: w.where[target] for w in report.warps}


def test_vulkan_delegates_the_warp_with_border_and_align_corners():
    report = check("mp-tiny", "executorch-vulkan")
    assert {w.component for w in report.warps} == {"dense_motion", "synthesis", "multiview"}
    assert all(w.padding_mode == "border" and w.align_corners for w in report.warps)
    assert set(_sites(report, "vulkan").values()) == {"delegated"}


def test_vulkan_check_says_why_a_zeros_padded_warp_is_not_delegated():
    model = zoo.build("mp-tiny")
    model.warp.padding_mode, model.warp.align_corners = "zeros", False
    report = check("mp-tiny", "executorch-vulkan", model=model)
    for w in report.warps:
        assert w.where["vulkan"] == "portable CPU kernel: aten.grid_sampler_2d.default ×1"
        assert "only with padding_mode=border and align_corners=True" in w.fix["vulkan"]
        assert "padding_mode=zeros, align_corners=False" in w.fix["vulkan"]
    grid_rows = [r for r in report.ops if r.op == "aten.grid_sampler_2d.default"]
    assert sum(r.where["vulkan"]["portable CPU kernel"] for r in grid_rows) == 3


def test_tflite_check_lists_every_op_per_target_and_each_warp_call(run_cli):
    code, out, _ = run_cli("check", "mp-tiny", "--backend", "tflite", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["targets"] == ["cpu", "gpu", "nnapi"]
    assert set(report["predicted"]) == {"cpu", "nnapi"}  # the GPU column is not predicted
    assert report["gpu_problem"] is None
    verdicts = {v["model"]: v for v in report["gpu_accelerator"]}
    assert set(verdicts) == {"keypoints", "dense_motion", "synthesis", "multiview"}
    for name, v in verdicts.items():  # the graphs are made for the real accelerator
        assert v["fully_accelerated"] and v["gpu_ops"] == v["ops"] and not v["rejected"], name
    ops = {(r["component"], r["op"]): r for r in report["ops"]}
    conv = ops[("keypoints", "CONV_2D")]
    assert conv["where"] == {"cpu": {"xnnpack": conv["count"]}, "gpu": {"accepted": conv["count"]},
                             "nnapi": {"nnapi (API 27+)": conv["count"]}}
    assert all(r["where"]["gpu"] == {"accepted": r["count"]} for r in ops.values())
    assert not any(op == "GATHER_ND" for _, op in ops)  # the gather warp, not the decomposition
    warps = {w["component"]: w for w in report["warps"]}
    assert set(warps) == {"dense_motion", "synthesis", "multiview"}
    synthesis = warps["synthesis"]
    assert (synthesis["impl"], synthesis["rank"], synthesis["grid_shape"]) == (
        "gather", 4, [1, 256, 256, 2])
    assert synthesis["where"]["nnapi"] == "nnapi"
    assert all(w["where"]["gpu"] == "gpu" for w in warps.values())


def test_tflite_check_without_the_software_gpu_says_the_gpu_was_not_run(tmp_path, monkeypatch):
    monkeypatch.setenv("MPKIT_CACHE_DIR", str(tmp_path))  # no driver in this cache
    from mpkit.export.check import render_table

    report = check("mp-tiny", "tflite")
    assert report.accelerators == [] and "mpkit gpu setup" in report.gpu_problem
    assert all("gpu" not in r.where for r in report.ops)  # no column is made up
    assert "gpu: not run: " in render_table(report)


def test_check_of_a_backend_without_its_sdk_is_a_clear_error(monkeypatch, run_cli):
    monkeypatch.delenv("QNN_SDK_ROOT", raising=False)
    code, _, err = run_cli("check", "mp-tiny", "--backend", "executorch-qnn")
    assert code == 1 and "set QNN_SDK_ROOT" in err
