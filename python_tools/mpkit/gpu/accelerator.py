"""LiteRT's real GPU accelerator, asked in a child process (it can crash): which ops it takes,
with its own reasons for the others, whether the model is fully accelerated, and what it
computes. On this host it runs on the software Vulkan device (`mpkit.gpu.software`)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mpkit.errors import MpkitError
from mpkit.gpu import software

_REJECTED_HEAD = "Following operations are not supported by GPU delegate:"
_REJECTED = re.compile(r"^([A-Z0-9_]+): (.+?)(?: (\S+;\d+))?$")
_PARTITION = re.compile(r"(\d+) operations will run on the GPU, and the remaining (\d+) "
                        r"operations will run on the CPU")
_TIMEOUT_S = 900


class GpuCrash(MpkitError):
    """The GPU accelerator killed its process."""


@dataclass(frozen=True)
class Rejection:
    op: str
    reason: str  # the delegate's own words
    location: str | None  # the op's tensor location when the delegate names it


@dataclass
class GpuVerdict:
    """What the real accelerator said about one model."""

    model: str
    ops: int  # operators in the model
    fully_accelerated: bool | None  # None when it crashed
    gpu_ops: int | None
    cpu_ops: int | None
    rejected: list[Rejection] = field(default_factory=list)
    crash: str | None = None  # "the GPU accelerator crashed on …"
    crash_op: str | None = None  # the first op whose inclusion crashes it, found by bisection

    def as_dict(self) -> dict:
        return asdict(self)


def _child(model: Path, args: Sequence[str], workdir: Path) -> subprocess.CompletedProcess:
    # -I: nothing from the user's working folder or PYTHON* variables is imported.
    return subprocess.run([sys.executable, "-I", "-m", "mpkit.gpu.child", "--model", str(model),
                           "--report", str(workdir / "report.json"), *args], cwd=workdir, env=software.child_env(), capture_output=True,
                          text=True, timeout=_TIMEOUT_S)


def _crash_text(proc: subprocess.CompletedProcess) -> str | None:
    if proc.returncode >= 0:
        return None
    try:
        name = signal.Signals(-proc.returncode).name
    except ValueError:
        name = f"signal {-proc.returncode}"
    return name


def _failure(proc: subprocess.CompletedProcess, what: str) -> MpkitError:
    tail = "\n".join(proc.stderr.strip().splitlines()[-3:])
    return MpkitError(f"the GPU accelerator could not {what} (exit {proc.returncode}): {tail}")


def _parse(stderr: str) -> tuple[list[Rejection], tuple[int, int] | None]:
    rejected, partition, inside = [], None, False
    for line in stderr.splitlines():
        if line.endswith(_REJECTED_HEAD):
            inside = True
            continue
        if (m := _PARTITION.search(line)) is not None:
            partition, inside = (int(m[1]), int(m[2])), False
            continue
        if inside:
            if (m := _REJECTED.match(line.strip())) is None:
                inside = False
            else:
                rejected.append(Rejection(m[1], m[2], m[3]))
    return rejected, partition


def op_names(model: Path) -> list[str]:
    """The model's operators in execution order (subgraph 0)."""
    from ai_edge_litert.tools import flatbuffer_utils as fb

    m = fb.read_model(str(model))
    return [fb.opcode_to_name(m, op.opcodeIndex) for op in m.subgraphs[0].operators]


def _truncated(model: Path, keep: int, out: Path) -> Path:
    """The model cut after its first `keep` operators, whose outputs become the model's."""
    from ai_edge_litert.tools import flatbuffer_utils as fb

    m = fb.read_model(str(model))
    graph = m.subgraphs[0]
    graph.operators = graph.operators[:keep]
    graph.outputs = list(graph.operators[-1].outputs)
    m.signatureDefs = []
    fb.write_model(m, str(out))
    return out


def _crash_op(model: Path, names: list[str], workdir: Path) -> str:
    """Bisects for the shortest prefix of the graph that crashes the accelerator."""
    low, high = 0, len(names)  # a prefix of `low` ops compiles; `high` ops crash
    while high - low > 1:
        mid = (low + high) // 2
        proc = _child(_truncated(model, mid, workdir / "prefix.tflite"),
                      ["--accelerator", "gpu"], workdir)
        if _crash_text(proc):
            high = mid
        else:
            low = mid
    return f"{names[high - 1]} (op {high - 1})"


def place(model: Path, name: str | None = None, bisect: bool = True) -> GpuVerdict:
    """Compiles `model` with the GPU accelerator (CPU fallback) and reports its verdict."""
    names = op_names(model)
    label = name or model.stem
    with tempfile.TemporaryDirectory(prefix="mpkit-gpu-") as tmp:
        proc = _child(model, ["--accelerator", "gpu"], Path(tmp))
        if (sig := _crash_text(proc)) is not None:
            culprit = _crash_op(model, names, Path(tmp)) if bisect else None
            return GpuVerdict(label, len(names), None, None, None,
                              crash=f"the GPU accelerator crashed on {label} ({sig})",
                              crash_op=culprit)
        if proc.returncode != 0:
            raise _failure(proc, f"compile {label}")
        head = json.loads((Path(tmp) / "report.json").read_text())
    rejected, partition = _parse(proc.stderr)
    fully = bool(head["fully_accelerated"])
    gpu_ops, cpu_ops = partition if partition else ((len(names), 0) if fully else (None, None))
    return GpuVerdict(label, len(names), fully, gpu_ops, cpu_ops, rejected)


def run_many(model: Path, samples: Sequence[Sequence[np.ndarray]], accelerator: str = "gpu",
             fp32: bool = False, threads: int = 2) -> list[list[np.ndarray]]:
    """Runs `model` on each sample (a tuple of inputs) in one child process, compiled once;
    per sample, the outputs in signature order."""
    with tempfile.TemporaryDirectory(prefix="mpkit-gpu-") as tmp:
        feed, out = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(feed, **{f"s{k}_arg{i}": np.asarray(x, dtype=np.float32)
                          for k, sample in enumerate(samples) for i, x in enumerate(sample)})
        args = ["--accelerator", accelerator, "--threads", str(threads), "--inputs", str(feed),
                "--outputs", str(out), *(["--fp32"] if fp32 else [])]
        proc = _child(model, args, Path(tmp))
        if (sig := _crash_text(proc)) is not None:
            raise GpuCrash(f"the GPU accelerator crashed on {model.name} ({sig})")
        if proc.returncode != 0:
            raise _failure(proc, f"run {model.name}")
        with np.load(out) as data:
            count = len(data.files) // len(samples)
            return [[data[f"s{k}_out{i}"] for i in range(count)] for k in range(len(samples))]


def run(model: Path, inputs: Sequence[np.ndarray], accelerator: str = "gpu", fp32: bool = False,
        threads: int = 2) -> list[np.ndarray]:
    """Runs `model` once in a child process; outputs in signature order."""
    return run_many(model, [inputs], accelerator, fp32, threads)[0]
