"""LiteRT's real GPU accelerator on the software Vulkan device: setup state, placement verdicts
in the delegate's own words, crash isolation with bisection, and numerics against the CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mpkit.errors import DependencyError, MpkitError
from mpkit.gpu import accelerator, software


@pytest.fixture(scope="module")
def tflite_component(tmp_path_factory):
    """Real mp-tiny components (shipped weights) converted to TFLite, by name."""
    from mpkit.export.backends import get_backend
    from mpkit.export.recipes import load_recipe
    from mpkit.models import zoo

    model = zoo.build("mp-tiny", zoo.default_checkpoint("mp-tiny"))
    backend = get_backend("tflite")
    model.warp.impl = backend.warp
    out = tmp_path_factory.mktemp("gpu")
    recipe = load_recipe("fp32")
    paths = {}
    for name in ("keypoints",):
        component = model.components()[name]
        example = component.example_inputs(torch.Generator().manual_seed(0))
        paths[name] = (out / f"{name}.tflite", example)
        backend.lower(component, example, recipe, [], paths[name][0])
    return paths


@pytest.fixture()
def no_driver(tmp_path, monkeypatch):
    monkeypatch.setenv("MPKIT_CACHE_DIR", str(tmp_path))


def test_without_the_driver_the_gpu_path_names_what_is_missing(no_driver, tflite_component):
    state = software.status()
    assert not state.ready and state.driver is None
    assert "mpkit gpu setup" in state.problem
    with pytest.raises(DependencyError, match="the GPU path needs a Vulkan device"):
        accelerator.place(tflite_component["keypoints"][0])


def test_the_driver_is_set_up_and_records_its_package_version():
    state = software.require()
    assert Path(state.driver).is_file() and state.loader
    assert state.package_version and state.package_version[0].isdigit()
    env = software.child_env({})
    assert Path(env["VK_ICD_FILENAMES"]).is_file()
    assert "VK_ICD_FILENAMES" not in __import__("os").environ  # only for mpkit's children


def test_keypoints_run_fully_on_the_gpu_and_match_the_cpu(tflite_component):
    path, example = tflite_component["keypoints"]
    verdict = accelerator.place(path)
    assert verdict.fully_accelerated and verdict.gpu_ops == verdict.ops and not verdict.rejected
    inputs = [x.numpy() for x in example]
    cpu = accelerator.run(path, inputs, "cpu")
    for fp32 in (False, True):
        gpu = accelerator.run(path, inputs, "gpu", fp32=fp32)
        assert len(gpu) == len(cpu) == 2
        for g, c in zip(gpu, cpu):
            assert g.shape == c.shape
            assert 10 * np.log10((c ** 2).sum() / max(((g - c) ** 2).sum(), 1e-30)) > 60


def test_rejected_ops_come_with_the_delegates_own_reasons(tmp_path):
    """A 5-D multiply: the accelerator takes the rest and says why not that op."""
    import litert_torch

    class FiveD(torch.nn.Module):
        def forward(self, x):
            y = x.reshape(1, 2, 3, 4, 5) * x.reshape(1, 2, 3, 4, 5).flip(-1)
            return torch.relu(y.reshape(1, 6, 4, 5) + 1.0)

    litert_torch.convert(FiveD().eval(), (torch.rand(1, 6, 4, 5),)).export(
        str(tmp_path / "five_d.tflite"))
    verdict = accelerator.place(tmp_path / "five_d.tflite")
    assert verdict.fully_accelerated is False and verdict.crash is None
    assert verdict.gpu_ops + verdict.cpu_ops == verdict.ops and verdict.cpu_ops > 0
    assert any("dimensions must be less than 5" in r.reason for r in verdict.rejected)
    assert all(r.op.isupper() and r.reason for r in verdict.rejected)


def test_a_crash_in_the_accelerator_is_reported_with_the_op_that_causes_it(tmp_path):
    """EMBEDDING_LOOKUP crashes LiteRT 2.3's GPU accelerator (research/gpu-host.md); the crash
    stays in the child process and bisection names the op."""
    import litert_torch

    class Lookup(torch.nn.Module):
        def forward(self, table, ids):
            return torch.nn.functional.embedding(ids, table) * 2.0 + 1.0

    example = (torch.rand(64, 3), torch.randint(0, 64, (256,)))
    litert_torch.convert(Lookup().eval(), example).export(str(tmp_path / "lookup.tflite"))
    verdict = accelerator.place(tmp_path / "lookup.tflite")
    assert verdict.crash and "crashed on lookup" in verdict.crash
    assert verdict.crash_op.startswith("EMBEDDING_LOOKUP")
    assert verdict.fully_accelerated is None


def test_a_crash_in_a_session_is_a_named_error_and_this_process_lives_on(tmp_path,
                                                                          tflite_component):
    """Export's GPU checks keep every component compiled in one child process; the crash of
    one (EMBEDDING_LOOKUP, above) is a GpuCrash naming it, never a dead command."""
    import litert_torch

    class Lookup(torch.nn.Module):
        def forward(self, table, ids):
            return torch.nn.functional.embedding(ids, table) * 2.0 + 1.0

    litert_torch.convert(Lookup().eval(), (torch.rand(64, 3), torch.randint(0, 64, (256,)))
                         ).export(str(tmp_path / "lookup.tflite"))
    keypoints, example = tflite_component["keypoints"]
    with pytest.raises(accelerator.GpuCrash, match=r"crashed on lookup.tflite \(SIGSEGV\)"):
        with accelerator.Session({"keypoints": keypoints, "lookup": tmp_path / "lookup.tflite"}):
            pass
    with accelerator.Session({"keypoints": keypoints}, fp32=True) as session:
        assert session.report[0]["fully_accelerated"]
        first = session.run("keypoints", [x.numpy() for x in example])
        assert [o.shape for o in first] == [(1, 50, 2), (1, 50, 2)]
        with pytest.raises(MpkitError, match="keypoints: 1 inputs for a model that takes 2"):
            session.run("keypoints", [example[0].numpy()])
        again = session.run("keypoints", [x.numpy() for x in example])  # still serving
        assert all(np.array_equal(a, b) for a, b in zip(first, again))
