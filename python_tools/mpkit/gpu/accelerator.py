"""LiteRT's real GPU accelerator, asked in a child process (it can crash): which ops it takes,
with its own reasons for the others, whether the model is fully accelerated, and what it
computes. On this host it runs on the software Vulkan device (`mpkit.gpu.software`)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mpkit.errors import MpkitError
from mpkit.gpu import software, wire

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
                           "--report", str(workdir / "report.json"), *args], cwd=workdir,
                          env=software.child_env(), capture_output=True, text=True,
                          timeout=_TIMEOUT_S)


def _crash_text(returncode: int) -> str | None:
    """The signal that killed a child, by name (None if it exited)."""
    if returncode >= 0:
        return None
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def _tail(log: str) -> str:
    return "\n".join(log.strip().splitlines()[-3:])


def _failure(proc: subprocess.CompletedProcess, what: str) -> MpkitError:
    return MpkitError(f"the GPU accelerator could not {what} (exit {proc.returncode}): "
                      f"{_tail(proc.stderr)}")


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
        if _crash_text(proc.returncode):
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
        if (sig := _crash_text(proc.returncode)) is not None:
            culprit = _crash_op(model, names, Path(tmp)) if bisect else None
            return GpuVerdict(label, len(names), None, None, None,
                              crash=f"the GPU accelerator crashed on {label} ({sig})",
                              crash_op=culprit)
        if proc.returncode != 0:
            raise _failure(proc, f"compile {label}")
        head, = json.loads((Path(tmp) / "report.json").read_text())
    rejected, partition = _parse(proc.stderr)
    fully = bool(head["fully_accelerated"])
    gpu_ops, cpu_ops = partition if partition else ((len(names), 0) if fully else (None, None))
    return GpuVerdict(label, len(names), fully, gpu_ops, cpu_ops, rejected)


class Session:
    """Models compiled once in one child process and run there on request, as host runners:
    the accelerator can crash its process, never this one. A context manager."""

    def __init__(self, models: dict[str, Path], accelerator: str = "gpu", fp32: bool = False,
                 threads: int = 2):
        self.names, self.paths = list(models), [Path(p) for p in models.values()]
        self.args = ["--accelerator", accelerator, "--threads", str(threads),
                     *(["--fp32"] if fp32 else [])]
        self.report: list[dict] = []  # per model, as mpkit.gpu.child writes it

    def __enter__(self) -> Session:
        env = software.child_env()
        self._tmp = tempfile.TemporaryDirectory(prefix="mpkit-gpu-")
        tmp = Path(self._tmp.name)
        child_in, self._requests = os.pipe()
        self._answers, child_out = os.pipe()
        self._log = open(tmp / "child.log", "w+")
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-m", "mpkit.gpu.child",
                 *(a for p in self.paths for a in ("--model", str(p))), *self.args,
                 "--report", str(tmp / "report.json"), "--serve", f"{child_in},{child_out}"],
                pass_fds=(child_in, child_out), cwd=tmp, env=env, stdout=self._log,
                stderr=self._log)
        except BaseException:
            self._close()
            raise
        finally:
            os.close(child_in)
            os.close(child_out)
        try:
            what = "its models"
            while "ready" not in (message := self._receive(what)):
                what = Path(str(message["compiling"])).name
            self.report = json.loads((tmp / "report.json").read_text())
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _died(self, what: str) -> MpkitError:
        code = self._proc.wait()
        self._log.seek(0)
        if (sig := _crash_text(code)) is not None:
            return GpuCrash(f"the GPU accelerator crashed on {what} ({sig})")
        return MpkitError(f"the GPU accelerator could not run {what} (exit {code}): "
                          f"{_tail(self._log.read())}")

    def _receive(self, what: str) -> dict[str, np.ndarray]:
        try:
            return wire.receive(self._answers, _TIMEOUT_S)
        except wire.Closed:
            raise self._died(what) from None
        except TimeoutError:
            self._proc.kill()
            raise MpkitError(f"the GPU accelerator gave no answer on {what} in {_TIMEOUT_S} s "
                             "(stopped)") from None

    def run(self, name: str, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Model `name` on `inputs` (signature order); its outputs in signature order."""
        arrays = {f"arg{i}": np.ascontiguousarray(x, dtype=np.float32)
                  for i, x in enumerate(inputs)}
        try:
            wire.send(self._requests, model=np.array(self.names.index(name)), **arrays)
        except BrokenPipeError:
            raise self._died(name) from None
        answer = self._receive(name)
        if "error" in answer:
            raise MpkitError(f"{name}: {answer['error']}")
        return [answer[f"out{i}"] for i in range(len(answer))]

    def runner(self, name: str) -> Callable[..., list[np.ndarray]]:
        return lambda *inputs: self.run(name, inputs)

    def _close(self) -> None:
        for fd in (self._requests, self._answers):
            if fd is not None:
                os.close(fd)
        self._requests = self._answers = None
        self._log.close()
        self._tmp.cleanup()

    def __exit__(self, *exc) -> None:
        os.close(self._requests)  # the child sees the end of its requests and exits
        self._requests = None
        try:
            self._proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._close()


def run_many(model: Path, samples: Sequence[Sequence[np.ndarray]], accelerator: str = "gpu",
             fp32: bool = False, threads: int = 2) -> list[list[np.ndarray]]:
    """Runs `model` on each sample (a tuple of inputs) in one child process, compiled once;
    per sample, the outputs in signature order."""
    with Session({model.name: model}, accelerator, fp32, threads) as session:
        return [session.run(model.name, sample) for sample in samples]


def run(model: Path, inputs: Sequence[np.ndarray], accelerator: str = "gpu", fp32: bool = False,
        threads: int = 2) -> list[np.ndarray]:
    """Runs `model` once in a child process; outputs in signature order."""
    return run_many(model, [inputs], accelerator, fp32, threads)[0]
