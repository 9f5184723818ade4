"""One training process or many: torch.distributed set up from torchrun's environment.

Every rank draws the same global batch from the same generator and trains on its own slice, so a
run's data and randomness do not depend on the world size: N processes with a global batch B
follow the curve of one process with batch B, and a run resumes on any world size. Gradients are
averaged by DDP; BatchNorm statistics are taken over the global batch (torch's SyncBatchNorm on
CUDA, `GlobalBatchNorm2d` on CPU, where SyncBatchNorm does not run).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from mpkit.errors import UsageError


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        """Rank 0 writes checkpoints, logs and plots."""
        return self.rank == 0

    def slice(self, batch_size: int) -> slice:
        """This rank's samples of a global batch."""
        if batch_size % self.size:
            raise UsageError(f"batch_size {batch_size} does not split over {self.size} "
                             f"processes: use a multiple of {self.size}")
        share = batch_size // self.size
        return slice(self.rank * share, (self.rank + 1) * share)


def start() -> World:
    """The world torchrun describes (RANK, WORLD_SIZE, LOCAL_RANK), or one process without it.
    gloo on CPU, NCCL when CUDA is present."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    return World(rank, size, local, device)


def stop(world: World) -> None:
    if world.size > 1 and dist.is_initialized():
        dist.destroy_process_group()


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics cover every rank's slice (a differentiable
    all-reduce of the sums), so N slices normalise as one global batch. Same parameters and
    buffers as BatchNorm2d: checkpoints load either way."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        # Two passes (the mean, then the squared deviations from it), as precise as
        # BatchNorm2d's own; E[x²] - mean² loses the variance of large activations.
        c = x.shape[1]
        n = torch.tensor([x.shape[0] * x.shape[2] * x.shape[3]], dtype=x.dtype)
        sums = all_reduce(torch.cat([x.sum((0, 2, 3)), n]))
        count = sums[c]
        mean = sums[:c] / count
        var = all_reduce((x - mean.view(1, c, 1, 1)).pow(2).sum((0, 2, 3))) / count
        with torch.no_grad():
            m = self.momentum if self.momentum is not None else 1 / float(
                self.num_batches_tracked + 1)
            self.running_mean.mul_(1 - m).add_(m * mean)
            self.running_var.mul_(1 - m).add_(m * var * count / (count - 1))
            self.num_batches_tracked.add_(1)
        shape = (1, c, 1, 1)
        out = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps)
        return out * self.weight.view(shape) + self.bias.view(shape)


def global_batchnorm(module: nn.Module, world: World) -> nn.Module:
    """`module` with every BatchNorm2d normalising over the global batch (in place)."""
    if world.size == 1:
        return module
    if world.device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for bn in [m for m in module.modules() if type(m) is nn.BatchNorm2d]:
        bn.__class__ = GlobalBatchNorm2d
    return module


def data_parallel(module: nn.Module, world: World) -> nn.Module:
    """DDP over the world (the module itself in one process)."""
    if world.size == 1:
        return module
    from torch.nn.parallel import DistributedDataParallel

    ids = [world.local_rank] if world.device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids)


def average_gradients(module: nn.Module, world: World) -> None:
    """Gradients averaged over the world in place, for a module outside DDP."""
    if world.size == 1:
        return
    for p in module.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= world.size


def mean_over_ranks(values: dict[str, torch.Tensor], world: World) -> dict[str, float]:
    """Scalars averaged over the world: each rank's slice mean → the global batch's mean."""
    if world.size == 1:
        return {k: float(v) for k, v in values.items()}
    stacked = torch.stack([v.float().reshape(()) for v in values.values()]).to(world.device)
    dist.all_reduce(stacked)
    return {k: float(v) / world.size for k, v in zip(values, stacked.cpu())}
