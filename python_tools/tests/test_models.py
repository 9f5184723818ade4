import pytest
import torch
import yaml

from mpkit.errors import CheckpointError, MpkitError, UnknownNameError
from mpkit.models import zoo
from mpkit.models.checkpoint import save_weights
from mpkit.models.config import load_config, models_dir
from mpkit.models.measure import measure
from mpkit.models.tps import PivotedSolver, ThinPlateSpline

PAPER_SIZES = ["mp-16g", "mp-7g", "mp-4g"]


@pytest.mark.parametrize("model_id", PAPER_SIZES)
def test_paper_sizes_within_25_percent(model_id):
    cfg = load_config(model_id)
    stats = measure(zoo.build(model_id))
    assert abs(stats.stage_gmacs("frame") / cfg.paper_gflops - 1) <= 0.25
    assert abs(stats.params_m / cfg.paper_params_m - 1) <= 0.25
    frame = {c.name: c.gmacs for c in stats.components if c.stage == "frame"}
    # The two U-Nets carry nearly all of the per-frame compute; keypoints stay light.
    assert (frame["dense_motion"] + frame["synthesis"]) / sum(frame.values()) > 0.95


def test_sizes_are_ordered_and_tiny_is_small():
    macs = {i: measure(zoo.build(i)).stage_gmacs("frame") for i in zoo.model_ids()}
    assert macs["mp-16g"] > macs["mp-7g"] > macs["mp-4g"] > macs["mp-tiny"]


@pytest.mark.parametrize("model_id", zoo.model_ids())
def test_every_component_exports_strict_and_matches_eager(model_id):
    model = zoo.build(model_id)
    for name, comp in model.components().items():
        inputs = comp.example_inputs(torch.Generator().manual_seed(1))
        program = torch.export.export(comp, inputs, strict=True)
        eager = comp(*inputs)
        exported = program.module()(*inputs)
        _, outputs = comp.io_spec()
        assert isinstance(eager, tuple) and len(eager) == len(outputs), name
        for spec, a, b in zip(outputs, eager, exported):
            assert tuple(a.shape) == spec.shape, (name, spec.name)
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def _reference_tps(kp_s, kp_d):
    """The same TPS system solved in float64 by LAPACK."""
    b = kp_s.shape[0]
    d, s = kp_d.double().view(b, 10, 5, 2), kp_s.double().view(b, 10, 5, 2)
    r = ((d.unsqueeze(3) - d.unsqueeze(2)) ** 2).sum(-1)
    r = r * torch.log(r + 1e-9)
    a = torch.cat([d, torch.ones_like(d[..., :1])], -1)
    lhs = torch.cat([torch.cat([r, a], -1),
                     torch.cat([a.transpose(-1, -2), torch.zeros(b, 10, 3, 3).double()], -1)], -2)
    lhs = lhs + torch.eye(8).double() * 0.01
    rhs = torch.cat([s, torch.zeros(b, 10, 3, 2).double()], -2)
    return torch.linalg.solve(lhs, rhs), torch.linalg.cond(lhs)


def test_tps_solve_matches_float64_within_a_tenth_of_a_pixel():
    tps = ThinPlateSpline(10, 5, 64)
    g = torch.Generator().manual_seed(0)
    checked = 0
    for _ in range(10):
        kp_s = torch.rand(16, 50, 2, generator=g) * 1.6 - 0.8
        kp_d = kp_s + torch.randn(16, 50, 2, generator=g) * 0.05
        ref, cond = _reference_tps(kp_s, kp_d)
        ok = (cond < 1e4).all(dim=1)  # float32 cannot do better on near-singular point sets
        grid = tps.grids(tps.solve(kp_s, kp_d), kp_d)[ok]
        grid_ref = tps.grids(ref.float(), kp_d)[ok]
        assert (grid - grid_ref).abs().max() * 127.5 < 0.1  # pixels at 256²
        checked += int(ok.sum())
    assert checked > 100


def test_pivoting_handles_a_zero_on_the_diagonal():
    a = torch.tensor([[0.0, 1.0, 2.0], [1.0, 0.0, 3.0], [4.0, -3.0, 8.0]])
    b = torch.tensor([[1.0], [2.0], [3.0]])
    torch.testing.assert_close(PivotedSolver(3)(a, b), torch.linalg.solve(a, b))


def test_unknown_model_lists_known(run_cli):
    with pytest.raises(UnknownNameError, match="known: mp-16g, mp-4g, mp-7g, mp-tiny"):
        load_config("mp-99g")
    code, _, err = run_cli("models", "show", "mp-99g")
    assert code == 1 and "unknown model 'mp-99g'" in err and len(err.strip().splitlines()) == 1


def test_typo_in_model_yaml_names_the_key(tmp_path, monkeypatch):
    bad = yaml.safe_load((models_dir() / "mp-tiny/model.yaml").read_text())
    bad["synthesis"]["num_down_block"] = bad["synthesis"].pop("num_down_blocks")
    (tmp_path / "mp-bad").mkdir()
    (tmp_path / "mp-bad/model.yaml").write_text(yaml.safe_dump(bad))
    monkeypatch.setenv("MPKIT_MODELS_DIR", str(tmp_path))
    with pytest.raises(MpkitError, match="synthesis.num_down_block: Extra inputs"):
        load_config("mp-bad")


def test_checkpoint_roundtrip_and_mismatch_names_the_tensor(tmp_path):
    model = zoo.build("mp-tiny", seed=3)
    path = tmp_path / "w.safetensors"
    save_weights(model, path)
    loaded = zoo.build("mp-tiny", path, seed=4)
    assert loaded.trained
    for (k, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), k
    with pytest.raises(CheckpointError, match="checkpoint is for model mp-tiny, not mp-4g"):
        zoo.build("mp-4g", path)
    other = tmp_path / "o.safetensors"
    state = model.state_dict()
    state["synthesis.final.weight"] = torch.zeros(3, 1, 3, 3)
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in state.items()}, str(other))
    with pytest.raises(CheckpointError, match=r"synthesis\.final\.weight has shape \(3, 1, 3, 3\)"):
        zoo.build("mp-tiny", other)
    pickle = tmp_path / "w.pt"
    torch.save(model.state_dict(), pickle)
    with pytest.raises(CheckpointError, match="only .safetensors"):
        zoo.build("mp-tiny", pickle)


def test_models_list_and_card(run_cli, tmp_path, monkeypatch):
    code, out, _ = run_cli("models", "list")
    assert code == 0
    for model_id in zoo.model_ids():
        assert model_id in out
    import shutil

    for model_id in ("mp-tiny", "mp-tiny-nk"):  # the ablation's copy without weights
        shutil.copytree(models_dir() / model_id, tmp_path / model_id,
                        ignore=shutil.ignore_patterns(
                            "weights.safetensors" if model_id == "mp-tiny-nk" else "-"))
    monkeypatch.setenv("MPKIT_MODELS_DIR", str(tmp_path))
    for model_id in ("mp-tiny", "mp-tiny-nk"):
        code, out, _ = run_cli("models", "card", model_id)
        assert code == 0 and "| dense_motion | frame |" in (tmp_path / model_id / "card.md").read_text()
    trained = (tmp_path / "mp-tiny/card.md").read_text()
    assert "**Weights**: `weights.safetensors`" in trained and "- step:" in trained
    assert "self-reenactment, people never in training:" in trained  # the recorded evaluation
    ablation = (tmp_path / "mp-tiny-nk/card.md").read_text()
    assert "untrained" in ablation
    assert "**mixed keypoints**" in trained and "**mixed keypoints**" not in ablation
    assert "removes the facial keypoints" in ablation
    assert "## Training record" in ablation  # its notes, though it records no evaluation


@pytest.mark.parametrize("padding", ["border", "zeros"])
@pytest.mark.parametrize("align_corners", [True, False])
def test_every_warp_impl_matches_grid_sample_on_real_frames(asset, padding, align_corners):
    import numpy as np

    from mpkit.media.video import read_frames
    from mpkit.models.config import WarpConfig
    from mpkit.models.warp import WARP_IMPLS, Warp

    frames = list(read_frames(asset("carphone.mp4"), limit=3))
    images = torch.stack([torch.from_numpy(np.array(f)).permute(2, 0, 1).float() / 255
                          for f in frames])
    ys, xs = torch.meshgrid(torch.linspace(-1.1, 1.1, 60), torch.linspace(-1.1, 1.1, 70),
                            indexing="ij")
    grid = torch.stack([xs, ys], -1).expand(6, -1, -1, -1) + 0.05 * torch.randn(
        6, 60, 70, 2, generator=torch.Generator().manual_seed(0))
    cfg = WarpConfig(padding_mode=padding, align_corners=align_corners)
    # two grids per image, as the dense motion samples one source by every TPS transform
    reference = torch.nn.functional.grid_sample(
        images.repeat_interleave(2, dim=0), grid, padding_mode=padding,
        align_corners=align_corners)
    for impl in WARP_IMPLS:
        warped = Warp(cfg, impl=impl)(images, grid)
        mse = float(((reference - warped) ** 2).mean())
        assert mse == 0 or 10 * np.log10(1 / mse) >= 60, impl


def test_an_unknown_warp_implementation_is_refused():
    from mpkit.models.config import WarpConfig
    from mpkit.models.warp import Warp

    with pytest.raises(ValueError, match="unknown warp implementation 'gathr'"):
        Warp(WarpConfig(), impl="gathr")(torch.rand(1, 3, 8, 8), torch.rand(1, 4, 4, 2))


def test_models_pose_bank_measures_the_training_ranges_and_checks_the_stored_bank(
        run_cli, tmp_path, monkeypatch, asset):
    """On the real clips (landmarks from the training cache), in a copy of models/."""
    import json
    import shutil

    shutil.copy(models_dir() / "clips.yaml", tmp_path)
    shutil.copytree(models_dir() / "mp-tiny", tmp_path / "mp-tiny",
                    ignore=shutil.ignore_patterns("weights.safetensors"))
    shipped = (models_dir() / "mp-tiny/pose_bank.json").read_text()
    monkeypatch.setenv("MPKIT_MODELS_DIR", str(tmp_path))
    bank, files = tmp_path / "mp-tiny/pose_bank.json", sorted((tmp_path / "mp-tiny").iterdir())
    code, out, err = run_cli("models", "pose-bank", "mp-tiny", "--check")
    assert code == 0 and f"{bank} is the measured bank" in out, err
    assert ("mp-tiny: 4 poses measured from 4310 frames of franck.webm [0, 3950), "
            "WolfgangLanger_Pexels.mp4 [0, 360)") in out
    assert "pose 0: [1 0 0; 0 1 0]" in out and "pose 3: [0.977 -0.142 0.185; " in out
    data = json.loads(shipped)
    data["affines"][1][0][2] += 0.01
    bank.write_text(json.dumps(data))
    code, _, err = run_cli("models", "pose-bank", "mp-tiny", "--check")
    assert code == 1 and ("differs from the measured bank in affines (largest affine "
                          "difference 0.01): write the measured one with `mpkit models "
                          "pose-bank mp-tiny`") in err, err
    bank.unlink()
    code, _, err = run_cli("models", "pose-bank", "mp-tiny", "--check")
    assert code == 1 and f"{bank} does not exist" in err and not bank.exists()
    code, out, err = run_cli("models", "pose-bank", "mp-tiny")
    assert code == 0 and f"wrote {bank}" in out, err
    assert bank.read_text() == shipped  # byte for byte, nothing left beside it
    assert sorted((tmp_path / "mp-tiny").iterdir()) == files
    # The ranges come from the clips file: a shorter training range measures another bank.
    clips = (tmp_path / "clips.yaml").read_text()
    (tmp_path / "clips.yaml").write_text(clips.replace("train: [[0, 360]]", "train: [[0, 200]]"))
    code, out, err = run_cli("models", "pose-bank", "mp-tiny", "--check")
    assert code == 1 and "4150 frames" in out and "differs from the measured bank" in err
    assert json.loads(bank.read_text()) == json.loads(shipped)  # --check writes nothing
    code, _, err = run_cli("models", "pose-bank", "mp-99g")
    assert code == 1 and "unknown model 'mp-99g'" in err
