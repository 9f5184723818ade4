"""The training loop: self-reenactment on real talking-head frames, resumable.

A run folder holds `ckpt-<step>/` (weights.safetensors, optimizer.safetensors, state.json),
`latest` (the name of the newest complete checkpoint, replaced atomically), `metrics.jsonl`
(one line per logged step, appended as it happens) and `losses.png`.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from mpkit.errors import CheckpointError
from mpkit.landmarks.facial import facial_weights
from mpkit.media.assets import asset_path
from mpkit.models import zoo
from mpkit.models.checkpoint import load_weights, save_weights
from mpkit.models.portrait import PortraitModel
from mpkit.train import adversarial, losses
from mpkit.train.config import TrainConfig
from mpkit.train.augment import color_jitter, synthetic_motion
from mpkit.train.data import prepare_clip, prepare_photos, split, to_batch


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    step: int
    seconds: float
    last: dict[str, float]


class Trainer:
    def __init__(self, cfg: TrainConfig, run_dir: Path):
        self.cfg, self.run_dir = cfg, run_dir
        self.model = zoo.build(cfg.model, seed=cfg.seed).train()
        mc = self.model.cfg
        self.clips = [prepare_clip(_media(v), mc.resolution, mc.dense_motion.size)
                      for v in cfg.videos]
        self.ranges = [split(c, cfg.holdout)[0] for c in self.clips]
        self.photos = (prepare_photos([_media(p) for p in cfg.photos], mc.resolution,
                                      mc.dense_motion.size) if cfg.photos else None)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.weights = torch.from_numpy(facial_weights())
        self.pose_bank = zoo.pose_bank(cfg.model)  # the multiview poses inference uses
        self.step = 0
        self.vgg = (adversarial.load_vgg19(Path(cfg.perceptual.weights))
                    if cfg.perceptual else None)
        self.disc, self.opt_d = None, None
        if cfg.discriminator:
            self.disc = adversarial.PatchDiscriminator().train()
            self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=cfg.discriminator.lr,
                                          betas=(0.5, 0.999))

    # -- one step -------------------------------------------------------------------------
    def _pick(self, frames, n: int) -> np.ndarray:
        frames = np.asarray(frames)
        return frames[torch.randint(len(frames), (n,), generator=self.generator).numpy()]

    def _batches(self) -> list[dict[str, torch.Tensor]]:
        """(source, driving): a self-reenactment pair from a clip, or a still with synthetic
        motion; colours jittered alike. The multiview poses come from the pose bank."""
        b, g = self.cfg.batch_size, self.generator
        if self.photos is not None and float(torch.rand(1, generator=g)) < self.cfg.photo_fraction:
            src = to_batch(self.photos, self._pick(range(len(self.photos)), b))
            batches = [src, synthetic_motion(src, g)]
        else:
            c = int(torch.randint(len(self.clips), (1,), generator=g))
            clip, frames = self.clips[c], self.ranges[c]
            batches = [to_batch(clip, self._pick(frames, n)) for n in (b, b)]
        return color_jitter(batches, g) if self.cfg.color_jitter else batches

    def _background(self, src: dict, drv: dict) -> torch.Tensor:
        """Per sample, the driving frame's own inpainted background (appearance knowledge: the
        network learns to take the background from this input) or the source's."""
        n = len(src["image"])
        phase = self.cfg.phase(self.step)
        share = self.cfg.driving_background
        if phase is not None and phase.driving_background is not None:
            share = phase.driving_background
        use_driving = torch.rand(n, generator=self.generator) < share
        return torch.where(use_driving[:, None, None, None], drv["background"], src["background"])

    def _learning_rate(self) -> float:
        cfg, phase = self.cfg, self.cfg.phase(self.step)
        if cfg.lr_final is None or (phase is not None and phase.constant_lr):
            return cfg.lr
        done = min(1.0, self.step / max(1, cfg.steps))
        return cfg.lr_final + 0.5 * (cfg.lr - cfg.lr_final) * (1 + math.cos(math.pi * done))

    def train_step(self) -> dict[str, float]:
        model, w = self.model, self.cfg.loss_weights
        for group in self.optimizer.param_groups:
            group["lr"] = self._learning_rate()
        parts = model.components()
        src, drv = self._batches()
        t = model.cfg.views
        kp_s, _ = parts["keypoints"](src["image"], src["facial"])
        kp_d, kp_d_neural = parts["keypoints"](drv["image"], drv["facial"])
        source_small = model.source_small(src["image"])
        deformation, occlusions, aux = model.dense_motion.forward_train(
            source_small, src["masks"], kp_s, kp_d)
        with torch.no_grad():  # the source warped to the pose bank's T poses, as at inference
            rep = lambda x: x.repeat_interleave(t, dim=0)  # noqa: E731
            view_motion = model.dense_motion(rep(source_small), rep(src["masks"]), rep(kp_s),
                                             self.pose_bank.apply(kp_s))
        multiview = parts["multiview"].encode_views(src["image"], src["background"],
                                                    view_motion[0], list(view_motion[1:]))
        pred = parts["synthesis"].render(src["image"], self._background(src, drv), multiview,
                                         deformation, occlusions)
        terms = {
            "l1": (pred - drv["image"]).abs().mean(),
            "ssim": losses.multiscale_ssim_loss(pred, drv["image"]),
            "equivariance": losses.equivariance_loss(model.kp_detector, drv["image"], kp_d_neural,
                                                     self.generator),
            "facial": losses.facial_knowledge_loss(deformation, drv["facial"], src["facial"],
                                                   self.weights),
            "masks": (aux - drv["masks"]).abs().mean(),
        }
        total = sum(getattr(w, k) * v for k, v in terms.items())
        cfg = self.cfg
        if self.vgg is not None:
            terms["perceptual"] = adversarial.perceptual_loss(self.vgg, pred, drv["image"])
            total = total + cfg.perceptual.weight * terms["perceptual"]
        if self.disc is not None:
            terms["adversarial"], terms["feature_matching"] = adversarial.generator_terms(
                self.disc, pred, drv["image"])
            total = (total + cfg.discriminator.weight * terms["adversarial"]
                     + cfg.discriminator.feature_matching * terms["feature_matching"])
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        if self.disc is not None:
            self.opt_d.zero_grad(set_to_none=True)
            terms["discriminator"] = adversarial.discriminator_loss(self.disc, pred,
                                                                    drv["image"])
            terms["discriminator"].backward()
            self.opt_d.step()
        self.step += 1
        return {"step": self.step, "lr": self.optimizer.param_groups[0]["lr"],
                "total": float(total.detach()),
                **{k: float(v.detach()) for k, v in terms.items()}}

    # -- checkpoints ----------------------------------------------------------------------
    def save(self) -> Path:
        """Writes ckpt-<step>/ completely, then points `latest` at it; older ones are removed."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        name = f"ckpt-{self.step:07d}"
        tmp = Path(tempfile.mkdtemp(dir=self.run_dir, prefix=f".{name}."))
        try:
            save_weights(self.model, tmp / "weights.safetensors",
                         {"step": self.step, "train_config": self.cfg.model_dump()})
            save_file(_optimizer_tensors(self.optimizer), str(tmp / "optimizer.safetensors"))
            save_file({"rng": self.generator.get_state()}, str(tmp / "rng.safetensors"))
            if self.disc is not None:
                save_file({k: v.contiguous() for k, v in self.disc.state_dict().items()},
                          str(tmp / "discriminator.safetensors"))
                save_file(_optimizer_tensors(self.opt_d),
                          str(tmp / "discriminator_optimizer.safetensors"))
            (tmp / "state.json").write_text(json.dumps({"step": self.step, "model": self.cfg.model}))
            final = self.run_dir / name
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        pointer = self.run_dir / ".latest.tmp"
        pointer.write_text(name)
        os.replace(pointer, self.run_dir / "latest")
        for old in self.run_dir.glob("ckpt-*"):
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)
        return final

    def resume(self) -> bool:
        latest = self.run_dir / "latest"
        if not latest.is_file():
            return False
        ckpt = self.run_dir / latest.read_text().strip()
        state = json.loads((ckpt / "state.json").read_text())
        if state["model"] != self.cfg.model:
            raise CheckpointError(f"{ckpt}: checkpoint is for model {state['model']}, "
                                  f"not {self.cfg.model}")
        load_weights(self.model, ckpt / "weights.safetensors")
        _load_optimizer(self.optimizer, load_file(str(ckpt / "optimizer.safetensors")))
        self.generator.set_state(load_file(str(ckpt / "rng.safetensors"))["rng"])
        if self.disc is not None:
            if not (ckpt / "discriminator.safetensors").is_file():
                raise CheckpointError(f"{ckpt}: has no discriminator; resume it without one or "
                                      "start a fresh run (--fresh)")
            self.disc.load_state_dict(load_file(str(ckpt / "discriminator.safetensors")))
            _load_optimizer(self.opt_d,
                            load_file(str(ckpt / "discriminator_optimizer.safetensors")))
        self.step = state["step"]
        return True


def _media(name: str) -> Path:
    """A registered asset name, or a path."""
    return Path(name) if Path(name).is_file() else asset_path(name)


def _optimizer_tensors(opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    out = {}
    for i, state in opt.state_dict()["state"].items():
        for k, v in state.items():
            out[f"{i}.{k}"] = (v if torch.is_tensor(v) else torch.tensor(v)).contiguous()
    return out


def _load_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    sd = opt.state_dict()
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, v in tensors.items():
        i, k = key.split(".", 1)
        state.setdefault(int(i), {})[k] = v
    sd["state"] = state
    opt.load_state_dict(sd)


def train(cfg: TrainConfig, run_dir: Path, resume: bool = True,
          progress: Callable[[dict], None] = lambda metrics: None) -> TrainResult:
    torch.manual_seed(cfg.seed)
    trainer = Trainer(cfg, run_dir)
    if resume:
        trainer.resume()
    log = run_dir / "metrics.jsonl"
    run_dir.mkdir(parents=True, exist_ok=True)
    start, last = time.perf_counter(), {}
    while trainer.step < cfg.steps:
        last = trainer.train_step()
        progress(last)
        if trainer.step % cfg.log_every == 0 or trainer.step == cfg.steps:
            with open(log, "a") as f:
                f.write(json.dumps(last) + "\n")
        if trainer.step % cfg.checkpoint_every == 0 or trainer.step == cfg.steps:
            trainer.save()
    plot_losses(log, run_dir / "losses.png")
    return TrainResult(run_dir, trainer.step, time.perf_counter() - start, last)


def plot_losses(log: Path, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows: dict[int, dict] = {}
    if log.is_file():
        for line in log.read_text().splitlines():
            row = json.loads(line)
            rows[row["step"]] = row  # a resumed run's later line wins
    if not rows:
        return
    steps = sorted(rows)
    fig, ax = plt.subplots(figsize=(7, 4))
    for key in [k for k in rows[steps[-1]] if k not in ("step", "lr")]:
        have = [s for s in steps if key in rows[s]]
        ax.plot(have, [rows[s][key] for s in have], label=key)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.legend()
    ax.set_title("training losses")
    fig.tight_layout()
    from mpkit.media.files import atomic_output

    with atomic_output(out) as tmp:
        fig.savefig(tmp)
    plt.close(fig)


def trained_model(run_dir: Path) -> PortraitModel:
    """The model of a run's latest checkpoint (eval mode)."""
    latest = (run_dir / "latest").read_text().strip()
    state = json.loads((run_dir / latest / "state.json").read_text())
    return zoo.build(state["model"], run_dir / latest / "weights.safetensors")
