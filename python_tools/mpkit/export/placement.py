"""Where every op of a lowered component will run, per runtime path.

ExecuTorch: read from the lowered program itself (ops inside a delegate's subgraph vs ops left to
the portable CPU kernels). TFLite: the GPU column is the verdict of LiteRT's real GPU accelerator
(`mpkit.gpu.accelerator`); the CPU (XNNPACK) and NNAPI columns are predicted from the op lists in
`delegate_ops.yaml` (read from the delegates' source) plus constraints NNAPI checks in code, not
run. The TFLite GPU analyzer is not used: it calls anything compatible. Ops are attributed to the warp by the module path the exporters keep in node
metadata (ExecuTorch) and tensor names (TFLite).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

WARP_MODULE = "mpkit.models.warp.Warp"
CPU_FALLBACK = "cpu fallback"


@dataclass
class OpPlacement:
    """One op type in one component: how many, and where they run per target."""

    component: str
    op: str
    count: int
    where: dict[str, Counter] = field(default_factory=dict)  # target -> {place: count}
    reasons: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def add(self, target: str, place: str, reason: str | None = None) -> None:
        self.where.setdefault(target, Counter())[place] += 1
        if reason:
            self.reasons[target].add(reason)


@dataclass
class WarpSite:
    """One call of the warp module, with its configuration and placement per target."""

    component: str
    impl: str
    padding_mode: str
    align_corners: bool
    image_shape: tuple[int, ...]
    grid_shape: tuple[int, ...]
    mode: str = "bilinear"
    ops: Counter = field(default_factory=Counter)  # op -> count, as lowered
    where: dict[str, str] = field(default_factory=dict)
    fix: dict[str, str] = field(default_factory=dict)

    @property
    def rank(self) -> int:
        return len(self.image_shape)


@cache
def delegate_ops() -> dict:
    return yaml.safe_load((Path(__file__).parent / "delegate_ops.yaml").read_text())


# -- ExecuTorch ---------------------------------------------------------------------------------
def _op_name(node) -> str:
    target = node.target
    return getattr(target, "__name__", None) or str(target)


def _in_warp(node) -> bool:
    stack = node.meta.get("nn_module_stack") or {}
    return any(WARP_MODULE in str(v) for v in stack.values())


def executorch_ops(component: str, graph_module, target: str) -> tuple[list[OpPlacement], Counter,
                                                                          Counter]:
    """Op placements of a lowered edge graph, plus the warp's (delegated, not delegated) op counts."""
    rows: dict[str, OpPlacement] = {}
    warp_in, warp_out = Counter(), Counter()

    def visit(node, delegated: bool) -> None:
        if node.op != "call_function" or _op_name(node) in ("getitem", "executorch_call_delegate"):
            return
        name = _op_name(node)
        row = rows.setdefault(name, OpPlacement(component, name, 0))
        row.count += 1
        row.add(target, "delegated" if delegated else "portable CPU kernel",
                None if delegated else f"{target} partitioner did not take {name}")
        if _in_warp(node):
            (warp_in if delegated else warp_out)[name] += 1

    for node in graph_module.graph.nodes:
        if node.op == "get_attr" and node.name.startswith("lowered_module_"):
            for inner in getattr(graph_module, node.name).original_module.graph.nodes:
                visit(inner, True)
        else:
            visit(node, False)
    return sorted(rows.values(), key=lambda r: -r.count), warp_in, warp_out


# -- TFLite -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _TensorInfo:
    dtype: str
    rank: int
    shape: tuple[int, ...]
    constant: bool


@dataclass(frozen=True)
class _Op:
    name: str
    inputs: tuple[_TensorInfo, ...]
    outputs: tuple[_TensorInfo, ...]
    in_warp: bool


def _read_tflite(path: Path) -> list[_Op]:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path))
    details = interp.get_tensor_details()
    ops = interp._get_ops_details()
    produced = {t for op in ops for t in op["outputs"]}
    graph_inputs = {d["index"] for d in interp.get_input_details()}

    def info(index: int) -> _TensorInfo:
        d = details[index]
        return _TensorInfo(d["dtype"].__name__, len(d["shape"]), tuple(int(s) for s in d["shape"]),
                           index not in produced and index not in graph_inputs)

    return [_Op(op["op_name"], tuple(info(i) for i in op["inputs"] if i >= 0),
                tuple(info(i) for i in op["outputs"]),
                "warp.Warp" in details[op["outputs"][0]]["name"])
            for op in ops if op["op_name"] != "DELEGATE"]


def nnapi_verdict(op: _Op) -> tuple[str, str | None]:
    """(placement, reason when not NNAPI)."""
    level = delegate_ops()["nnapi"].get(op.name)
    if level is None:
        return CPU_FALLBACK, f"NNAPI delegate has no mapping for {op.name}"
    if any(t.rank > 4 for t in (*op.inputs, *op.outputs) if not t.constant):
        return CPU_FALLBACK, f"{op.name} on a tensor of rank > 4"
    return f"nnapi (API {level}+)", None


def xnnpack_verdict(op: _Op) -> str | None:
    if op.name not in delegate_ops()["xnnpack"]:
        return f"XNNPACK has no {op.name}: TFLite's CPU kernel runs it"
    return None


def tflite_ops(component: str, path: Path) -> tuple[list[OpPlacement], list[_Op]]:
    """Op placements for the CPU (XNNPACK) and NNAPI paths, predicted from op lists, and the
    warp's ops. The GPU column comes from the real accelerator (`gpu_placement`)."""
    rows: dict[str, OpPlacement] = {}
    warp_ops = []
    for op in _read_tflite(path):
        row = rows.setdefault(op.name, OpPlacement(component, op.name, 0))
        row.count += 1
        reason = xnnpack_verdict(op)
        row.add("cpu", "xnnpack" if reason is None else "cpu kernel", reason)
        row.add("nnapi", *nnapi_verdict(op))
        if op.in_warp:
            warp_ops.append(op)
    return sorted(rows.values(), key=lambda r: -r.count), warp_ops


def tflite_warp_placement(site: WarpSite, ops: list[_Op]) -> None:
    site.ops = Counter(op.name for op in ops)
    nnapi_blockers = sorted({r for op in ops if (r := nnapi_verdict(op)[1])})
    site.where["nnapi"] = ("nnapi" if not nnapi_blockers
                           else f"{CPU_FALLBACK}: {'; '.join(nnapi_blockers)}")
    xnn = sorted({op.name for op in ops if xnnpack_verdict(op)})
    site.where["cpu"] = "xnnpack" if not xnn else f"xnnpack + cpu kernels ({', '.join(xnn)})"
    if site.impl == "grid_sample":
        fix = (f"the converter decomposes grid_sample into {sum(site.ops.values())} ops "
               "(GATHER_ND, 5-D BROADCAST_TO): export with warp=gather")
        for target in ("cpu", "nnapi"):
            site.fix[target] = fix


def gpu_placement(rows: list[OpPlacement], sites: list[WarpSite], verdict) -> None:
    """Fills the GPU column of one component's rows and warp sites from the real accelerator's
    verdict (`mpkit.gpu.accelerator.GpuVerdict`), in its own words."""
    if verdict.crash:
        where = verdict.crash + (f"; first crashing op: {verdict.crash_op}"
                                 if verdict.crash_op else "")
        for row in rows:
            row.where["gpu"] = Counter({"crashed": row.count})
        for site in sites:
            site.where["gpu"] = where
            if verdict.crash_op and verdict.crash_op.split()[0] in site.ops:
                site.fix["gpu"] = (f"the warp's {verdict.crash_op.split()[0]} crashes the GPU "
                                   "accelerator: use a warp form it runs (GATHER on 4-D tensors)")
        return
    rejected = defaultdict(list)
    for r in verdict.rejected:
        rejected[r.op].append(r)
    for row in rows:
        reasons = rejected.get(row.op, [])
        located = {r.location for r in reasons if r.location}
        # The delegate names each rejected op by location, or the whole op type at once.
        n = row.count if any(r.location is None for r in reasons) else min(len(located), row.count)
        row.where["gpu"] = Counter({k: v for k, v in (("accepted", row.count - n),
                                                      ("rejected", n)) if v})
        for r in reasons:
            row.reasons["gpu"].add(r.reason)
    for site in sites:
        # A rejection belongs to the warp when its location is inside the warp module, or when
        # the delegate rejected the warp's op type as a whole.
        blockers = sorted({f"{r.op}: {r.reason}" for op in site.ops for r in rejected.get(op, [])
                           if r.location is None or "warp.Warp" in r.location})
        site.where["gpu"] = ("rejected: " + "; ".join(blockers) if blockers
                             else "gpu" if verdict.fully_accelerated else "accepted")
