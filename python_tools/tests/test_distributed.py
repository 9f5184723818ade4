"""Training's distributed pieces under real torchrun processes (gloo on this CPU)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import torch

_BATCHNORM = textwrap.dedent("""
    import json, sys, torch
    from mpkit.train import distributed
    world = distributed.start()
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)).train()
    distributed.global_batchnorm(net, world)
    x, target = torch.randn(4, 3, 8, 8), torch.randn(4, 4, 6, 6)
    y = net(x[world.slice(4)])
    (y * target[world.slice(4)]).sum().backward()
    torch.distributed.all_reduce(net[0].weight.grad)  # what DDP does, but summed
    if world.main:
        bn = net[1]
        json.dump({"out": y.tolist(), "grad": net[0].weight.grad.tolist(),
                   "mean": bn.running_mean.tolist(), "var": bn.running_var.tolist()},
                  open(sys.argv[1], "w"))
    distributed.stop(world)
""")


def _torchrun(script: str, tmp_path: Path, *args: str, procs: int = 2) -> None:
    path = tmp_path / "worker.py"
    path.write_text(script)
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                    f"--nproc_per_node={procs}", str(path), *args], check=True, timeout=300,
                   capture_output=True)


def test_batchnorm_over_two_processes_is_batchnorm_over_the_global_batch(tmp_path):
    _torchrun(_BATCHNORM, tmp_path, str(tmp_path / "out.json"))
    got = json.loads((tmp_path / "out.json").read_text())
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)).train()
    x, target = torch.randn(4, 3, 8, 8), torch.randn(4, 4, 6, 6)
    y = net(x)
    (y * target).sum().backward()
    assert torch.allclose(torch.tensor(got["out"]), y[:2].detach(), atol=1e-5)
    assert torch.allclose(torch.tensor(got["mean"]), net[1].running_mean, atol=1e-6)
    assert torch.allclose(torch.tensor(got["var"]), net[1].running_var, atol=1e-6)
    assert torch.allclose(torch.tensor(got["grad"]), net[0].weight.grad, atol=1e-4)
