"""The training loop: self-reenactment on real talking-head frames, resumable, in one process or
under torchrun (`mpkit.train.distributed`: every rank draws the same global batch and trains on
its slice under DDP, so the world size changes neither the data nor the curve, and a run resumes
on any world size; rank 0 writes checkpoints, logs and plots).

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

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from mpkit.errors import CheckpointError
from mpkit.landmarks.facial import facial_group, facial_weights
from mpkit.models import zoo
from mpkit.models.checkpoint import load_weights, save_weights
from mpkit.models.portrait import PortraitModel
from mpkit.train import adversarial, distributed, losses
from mpkit.train.config import TrainConfig
from mpkit.train.augment import color_jitter
from mpkit.train.data import Sampler, load_training_data


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    step: int
    seconds: float
    last: dict[str, float]


@dataclass
class _Aux:
    """Networks the generator's losses use but DDP does not train: frozen feature networks and
    the discriminator (stepped on its own, gradients averaged by hand)."""

    vgg: nn.Module | None = None
    disc: nn.Module | None = None
    ssd: nn.Module | None = None
    faceres: nn.Module | None = None


class _Objective(nn.Module):
    """The generator's losses on one slice of the global batch: the module DDP runs."""

    def __init__(self, model: PortraitModel, cfg: TrainConfig, aux: _Aux):
        super().__init__()
        self.model, self.cfg, self.aux = model, cfg, aux
        self.pose_bank = zoo.pose_bank(cfg.model)  # the multiview poses inference uses
        self.register_buffer("weights", torch.from_numpy(facial_weights()), persistent=False)
        self.lips = torch.from_numpy(facial_group("lips"))

    def forward(self, src: dict, drv: dict, background: torch.Tensor, theta: torch.Tensor
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
        model, w, aux, cfg = self.model, self.cfg.loss_weights, self.aux, self.cfg
        parts = model.components()
        t = model.cfg.views
        kp_s, _ = parts["keypoints"](src["image"], src["facial"])
        kp_d, kp_d_neural = parts["keypoints"](drv["image"], drv["facial"])
        source_small = model.source_small(src["image"])
        deformation, occlusions, mask_heads = model.dense_motion.forward_train(
            source_small, src["masks"], kp_s, kp_d)
        with torch.no_grad():  # the source warped to the pose bank's T poses, as at inference
            rep = lambda x: x.repeat_interleave(t, dim=0)  # noqa: E731
            view_motion = model.dense_motion(rep(source_small), rep(src["masks"]), rep(kp_s),
                                             self.pose_bank.apply(kp_s))
        multiview = parts["multiview"].encode_views(src["image"], src["background"],
                                                    view_motion[0], list(view_motion[1:]))
        pred = parts["synthesis"].render(src["image"], background, multiview, deformation,
                                         occlusions)
        terms = {
            "l1": (pred - drv["image"]).abs().mean(),
            "ssim": losses.multiscale_ssim_loss(pred, drv["image"]),
            "equivariance": losses.equivariance_loss(model.kp_detector, drv["image"], kp_d_neural,
                                                     theta),
            "facial": losses.facial_knowledge_loss(deformation, drv["facial"], src["facial"],
                                                   self.weights),
            "masks": (mask_heads - drv["masks"]).abs().mean(),
        }
        if w.face_perceptual:
            terms["face_perceptual"] = losses.face_perceptual_loss(aux.ssd, pred, drv["image"])
        if w.identity:
            terms["identity"] = losses.identity_loss(aux.faceres, pred, drv["facial"],
                                                     drv["image"])
        if w.colour:
            terms["colour"] = losses.colour_loss(pred, drv["facial"], src["image"], src["facial"])
        if w.mouth:
            terms["mouth"] = losses.mouth_loss(pred, drv["image"], drv["facial"][:, self.lips])
        total = sum(getattr(w, k) * v for k, v in terms.items())
        if aux.vgg is not None:
            terms["perceptual"] = adversarial.perceptual_loss(aux.vgg, pred, drv["image"])
            total = total + cfg.perceptual.weight * terms["perceptual"]
        if aux.disc is not None:
            terms["adversarial"], terms["feature_matching"] = adversarial.generator_terms(
                aux.disc, pred, drv["image"])
            total = (total + cfg.discriminator.weight * terms["adversarial"]
                     + cfg.discriminator.feature_matching * terms["feature_matching"])
        return total, terms, pred


class Trainer:
    def __init__(self, cfg: TrainConfig, run_dir: Path,
                 world: distributed.World = distributed.World()):
        self.cfg, self.run_dir, self.world = cfg, run_dir, world
        self.model = zoo.build(cfg.model, seed=cfg.seed).train()
        if cfg.init is not None:
            load_weights(self.model, Path(cfg.init))
        distributed.global_batchnorm(self.model, world)
        self.model.to(world.device)
        mc = self.model.cfg
        self.data = load_training_data(cfg, mc.resolution, mc.dense_motion.size)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.sampler = Sampler(self.data, cfg.batch_size, cfg.photo_fraction, self.generator)
        self.slice = world.slice(cfg.batch_size)
        self.step = 0
        w = cfg.loss_weights
        aux = _Aux(
            vgg=adversarial.load_vgg19(Path(cfg.perceptual.weights)) if cfg.perceptual else None,
            ssd=_frozen("ssd_mobilenetv1") if w.face_perceptual else None,
            faceres=_frozen("faceres") if w.identity else None)
        self.opt_d = None
        if cfg.discriminator:
            aux.disc = adversarial.PatchDiscriminator().train()
            self.opt_d = torch.optim.Adam(aux.disc.parameters(), lr=cfg.discriminator.lr,
                                          betas=(0.5, 0.999))
        for net in (aux.vgg, aux.disc, aux.ssd, aux.faceres):
            if net is not None:
                net.to(world.device)
        self.aux = aux
        self.objective = distributed.data_parallel(_Objective(self.model, cfg, aux), world)

    @property
    def disc(self) -> nn.Module | None:
        return self.aux.disc

    # -- one step -------------------------------------------------------------------------
    def _batches(self) -> list[dict[str, torch.Tensor]]:
        """(source, driving): the global batch from the sampler, colours jittered alike (every
        rank draws the same); the multiview poses come from the pose bank."""
        batches = self.sampler()
        return color_jitter(batches, self.generator) if self.cfg.color_jitter else batches

    def _use_driving_background(self, n: int) -> torch.Tensor:
        """Per sample of the global batch: take the driving frame's own inpainted background
        (appearance knowledge: the network learns to take the background from this input)
        rather than the source's."""
        phase = self.cfg.phase(self.step)
        share = self.cfg.driving_background
        if phase is not None and phase.driving_background is not None:
            share = phase.driving_background
        return torch.rand(n, generator=self.generator) < share

    def _learning_rate(self) -> float:
        cfg, phase = self.cfg, self.cfg.phase(self.step)
        if cfg.lr_final is None or (phase is not None and phase.constant_lr):
            return cfg.lr
        done = min(1.0, self.step / max(1, cfg.steps))
        return cfg.lr_final + 0.5 * (cfg.lr - cfg.lr_final) * (1 + math.cos(math.pi * done))

    def generator_backward(self) -> tuple[torch.Tensor, dict, torch.Tensor, torch.Tensor]:
        """One global batch's generator losses on this rank's slice, backpropagated (DDP
        averages the gradients over the ranks): (total, terms, prediction, driving image)."""
        for group in self.optimizer.param_groups:
            group["lr"] = self._learning_rate()
        src, drv = self._batches()
        n = len(src["image"])
        # Every random draw covers the global batch, so each rank's slice is what one process
        # would have drawn for those samples.
        use_driving = self._use_driving_background(n)
        theta = losses.random_affine(n, self.generator)
        mine, device = self.slice, self.world.device
        src = {k: v[mine].to(device) for k, v in src.items()}
        drv = {k: v[mine].to(device) for k, v in drv.items()}
        background = torch.where(use_driving[mine, None, None, None].to(device),
                                 drv["background"], src["background"])
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
            total, terms, pred = self.objective(src, drv, background, theta[mine].to(device))
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        return total, terms, pred, drv["image"]

    def train_step(self) -> dict[str, float]:
        total, terms, pred, real = self.generator_backward()
        self.optimizer.step()
        if self.disc is not None:
            self.opt_d.zero_grad(set_to_none=True)
            terms["discriminator"] = adversarial.discriminator_loss(self.disc, pred, real)
            terms["discriminator"].backward()
            distributed.average_gradients(self.disc, self.world)
            self.opt_d.step()
        self.step += 1
        figures = distributed.mean_over_ranks(
            {"total": total.detach(), **{k: v.detach() for k, v in terms.items()}}, self.world)
        return {"step": self.step, "lr": self.optimizer.param_groups[0]["lr"], **figures}

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


def _frozen(name: str) -> nn.Module:
    """A pretrained face network (mpkit.facenets) as a fixed feature extractor."""
    from mpkit.facenets.convert import load

    net = load(name).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


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
    """Trains in this process, or as one rank of the world torchrun started."""
    world = distributed.start()
    try:
        torch.manual_seed(cfg.seed)
        trainer = Trainer(cfg, run_dir, world)
        if resume:
            trainer.resume()
        log = run_dir / "metrics.jsonl"
        if world.main:
            run_dir.mkdir(parents=True, exist_ok=True)
        start, last = time.perf_counter(), {}
        while trainer.step < cfg.steps:
            last = trainer.train_step()
            if not world.main:
                continue
            progress(last)
            if trainer.step % cfg.log_every == 0 or trainer.step == cfg.steps:
                with open(log, "a") as f:
                    f.write(json.dumps(last) + "\n")
            if trainer.step % cfg.checkpoint_every == 0 or trainer.step == cfg.steps:
                trainer.save()
        if world.main:
            plot_losses(log, run_dir / "losses.png")
        return TrainResult(run_dir, trainer.step, time.perf_counter() - start, last)
    finally:
        distributed.stop(world)


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
