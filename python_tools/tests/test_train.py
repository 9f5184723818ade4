"""`mpkit train` on the real carphone clip: a few steps, resumable, atomic, deterministic."""

import errno
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from mpkit.errors import CheckpointError, MpkitError
from mpkit.media.image import read_image
from mpkit.media.video import write_video
from mpkit.train import loop
from mpkit.train.config import TrainConfig, load_train_config


def smoke(steps: int, model: str = "mp-tiny", **kw) -> TrainConfig:
    return TrainConfig(model=model, steps=steps, batch_size=1, lr=5e-4, videos=["carphone.mp4"],
                       checkpoint_every=2, log_every=1, **kw)


def weights(run_dir):
    return load_file(str(run_dir / (run_dir / "latest").read_text() / "weights.safetensors"))


def test_smoke_run_writes_checkpoint_metrics_and_plot(asset, tmp_path):
    result = loop.train(smoke(3), tmp_path)
    assert result.step == 3
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all(np.isfinite(r["total"]) and r["l1"] > 0 for r in rows)
    assert (tmp_path / "latest").read_text() == "ckpt-0000003"
    assert (tmp_path / "losses.png").stat().st_size > 10_000
    model = loop.trained_model(tmp_path)
    assert model.trained


def test_resume_continues_exactly(asset, tmp_path):
    loop.train(smoke(4), tmp_path / "straight")
    loop.train(smoke(2), tmp_path / "split")
    loop.train(smoke(4), tmp_path / "split")  # resumes at step 2
    a, b = weights(tmp_path / "straight"), weights(tmp_path / "split")
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-6, msg=name)


def test_resume_from_another_variant_names_the_mismatch(asset, tmp_path):
    loop.train(smoke(2), tmp_path)
    with pytest.raises(CheckpointError, match="checkpoint is for model mp-tiny, not mp-4g"):
        loop.train(smoke(4, model="mp-4g"), tmp_path)


def test_failed_save_keeps_the_previous_checkpoint(asset, tmp_path, monkeypatch):
    loop.train(smoke(2), tmp_path)
    before = weights(tmp_path)
    real = loop.save_file

    def disk_full(tensors, path, *a, **k):
        if "optimizer" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(tensors, path, *a, **k)

    monkeypatch.setattr(loop, "save_file", disk_full)
    with pytest.raises(OSError, match="No space left"):
        loop.train(smoke(4), tmp_path)
    assert (tmp_path / "latest").read_text() == "ckpt-0000002"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("ckpt", ".ckpt"))) \
        == ["ckpt-0000002"]
    after = weights(tmp_path)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_init_fine_tunes_from_a_checkpoint_at_step_zero(asset, tmp_path):
    """`init` starts from a checkpoint's weights (not the seed's) with a fresh optimizer; the
    mouth term is logged when weighted; a missing init file is named."""
    loop.train(smoke(2), tmp_path / "base")
    base = tmp_path / "base" / (tmp_path / "base" / "latest").read_text() / "weights.safetensors"
    cfg = smoke(1, init=str(base), loss_weights={"mouth": 5.0})
    tuned = loop.Trainer(cfg, tmp_path / "tuned")
    start = load_file(str(base))
    for name, tensor in tuned.model.state_dict().items():
        if name in start:
            torch.testing.assert_close(tensor, start[name], rtol=0, atol=0, msg=name)
    metrics = tuned.train_step()
    assert metrics["step"] == 1 and metrics["mouth"] > 0
    (tmp_path / "ft.yaml").write_text("model: mp-tiny\nsteps: 1\nbatch_size: 1\nlr: 0.001\n"
                                      "videos: [carphone.mp4]\ninit: gone.safetensors\n")
    with pytest.raises(MpkitError, match="init: .*gone.safetensors is no such file"):
        load_train_config(tmp_path / "ft.yaml")


def test_video_without_faces_is_a_clear_error(asset, tmp_path):
    flag = read_image(asset("obama.jpg"))[:240, :240]
    video = tmp_path / "flags.mp4"
    write_video(video, [np.roll(flag, i, axis=1) for i in range(6)], 25)
    with pytest.raises(MpkitError, match=r"0 usable frames; 6 skipped \(no face\)"):
        loop.train(TrainConfig(model="mp-tiny", steps=1, batch_size=1, lr=1e-3,
                               videos=[str(video)]), tmp_path / "run")


def test_typo_in_train_yaml_names_the_key(tmp_path):
    bad = tmp_path / "train.yaml"
    bad.write_text("model: mp-tiny\nsteps: 1\nbatch_size: 1\nlr: 0.001\nvideos: [a.mp4]\n"
                   "loss_weights: {l1: 1, facial_weight: 3}\n")
    with pytest.raises(MpkitError, match="loss_weights.facial_weight: Extra inputs"):
        load_train_config(bad)


def test_phases_and_cosine_decay_set_the_learning_rate_per_step(asset, tmp_path):
    cfg = smoke(4, lr_final=1e-5, driving_background=0.5,
                phases=[{"until": 2, "driving_background": 1.0, "constant_lr": True}])
    result = loop.train(cfg, tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    lrs = [r["lr"] for r in rows]  # the rate each step used (steps 0..3 of 4)
    assert lrs[:2] == [5e-4, 5e-4]  # phase 1: constant
    assert lrs[2] == pytest.approx(1e-5 + 0.5 * (5e-4 - 1e-5) * (1 + np.cos(np.pi * 2 / 4)))
    assert lrs[3] < lrs[2] and result.step == 4
    assert cfg.phase(1).driving_background == 1.0 and cfg.phase(2) is None


def test_patch_discriminator_trains_and_resumes_exactly(asset, tmp_path):
    cfg = lambda steps: smoke(steps, discriminator={"weight": 1.0})  # noqa: E731
    loop.train(cfg(4), tmp_path / "straight")
    loop.train(cfg(2), tmp_path / "split")
    loop.train(cfg(4), tmp_path / "split")
    rows = [json.loads(line) for line in
            (tmp_path / "straight/metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r[k]) for r in rows
               for k in ("adversarial", "feature_matching", "discriminator"))
    disc = [load_file(str(d / "ckpt-0000004/discriminator.safetensors"))
            for d in (tmp_path / "straight", tmp_path / "split")]
    for name in disc[0]:
        torch.testing.assert_close(disc[0][name], disc[1][name], rtol=0, atol=1e-6, msg=name)


def test_perceptual_loss_uses_supplied_vgg_weights_and_rejects_others(asset, tmp_path):
    from safetensors.torch import save_file

    from mpkit.models.zoo import default_checkpoint
    from mpkit.train.adversarial import Vgg19Features

    vgg = tmp_path / "vgg19.safetensors"  # a user's weights file; random values suffice here
    save_file({k: v for k, v in Vgg19Features().state_dict().items()
               if k.startswith("features.")}, str(vgg))
    loop.train(smoke(2, perceptual={"weights": str(vgg)}), tmp_path / "run")
    rows = [json.loads(line) for line in
            (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    assert all(r["perceptual"] > 0 for r in rows)
    with pytest.raises(CheckpointError, match="not VGG-19 features weights"):
        loop.train(smoke(1, perceptual={"weights": str(default_checkpoint("mp-tiny"))}),
                   tmp_path / "bad")
    with pytest.raises(CheckpointError, match="Supply torchvision's VGG-19 ImageNet weights"):
        loop.train(smoke(1, perceptual={"weights": str(tmp_path / "absent.safetensors")}),
                   tmp_path / "none")
