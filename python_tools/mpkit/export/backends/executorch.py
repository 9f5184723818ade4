"""ExecuTorch backends: XNNPACK (CPU), Vulkan (GPU, lowered ahead of time), QNN (needs an SDK)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from mpkit import logs
from mpkit.errors import MpkitError
from mpkit.export.backends.base import Backend, HostRunner
from mpkit.export.placement import OpPlacement, WarpSite, executorch_ops
from mpkit.export.recipes import Recipe
from mpkit.models.portrait import Component
from mpkit.models.tps import PivotedSolver
from mpkit.media.files import atomic_output


# Recipe op kinds → the learned layers the PT2E quantizer annotates. By module type, not by ATen
# op: the TPS solve and the flow sums are functional 1×1 convolutions by constant ones,
# arithmetic that must stay float.
_MODULES = {"conv": (torch.nn.Conv2d,), "linear": (torch.nn.Linear,)}


def quantize_pt2e(component: Component, example, recipe: Recipe,
                  calibration: Sequence[tuple[torch.Tensor, ...]]) -> torch.export.ExportedProgram:
    """int8 per-channel symmetric weights and calibrated int8 activations (XNNPACK's quantizer),
    for the recipe's op kinds only; everything else stays float."""
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer, get_symmetric_quantization_config,
    )
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    config = get_symmetric_quantization_config(is_per_channel=True)
    quantizer = XNNPACKQuantizer()
    if "all" in recipe.quantize.ops:
        quantizer.set_global(config)
        # Except the TPS solve: its elimination steps share one constant bias, which the
        # quantizer makes int32 for the first step's convolution while the later steps stay
        # float, and XNNPACK rejects a float convolution with an int32 bias ("Failed to create
        # convolution node … xnn_status_invalid_parameter").
        quantizer.set_module_type(PivotedSolver, None)
    else:
        for kind in recipe.quantize.ops:
            for module in _MODULES[kind]:
                quantizer.set_module_type(module, config)
    graph = prepare_pt2e(torch.export.export(component, example, strict=True).module(), quantizer)
    for args in calibration:
        graph(*args)
    return torch.export.export(convert_pt2e(graph), example, strict=True)


def set_threadpool(threads: int) -> None:
    """ExecuTorch's CPU threadpool (XNNPACK and the portable kernels) is one per process: resize
    it and check that it took."""
    from executorch.extension.pybindings import portable_lib

    if portable_lib._threadpool_get_thread_count() != threads:
        portable_lib._unsafe_reset_threadpool(threads)
    if (got := portable_lib._threadpool_get_thread_count()) != threads:
        raise MpkitError(f"ExecuTorch's threadpool has {got} threads, {threads} were asked")


class _ExecuTorchBackend(Backend):
    runtime, suffix, warp = "executorch", ".pte", "grid_sample"
    target = ""  # the delegate's short name in reports

    def warp_fix(self, site: WarpSite) -> str:
        return ""

    def check(self, component: Component, example, recipe: Recipe,
              calibration: Sequence[tuple[torch.Tensor, ...]], workdir: Path,
              sites: list[WarpSite]) -> list[OpPlacement]:
        edge = self.edge_program(component, example, recipe, calibration)
        rows, warp_in, warp_out = executorch_ops(
            component.name, edge.exported_program().graph_module, self.target)
        for site in sites:
            site.ops = warp_in + warp_out
            if warp_out:
                ops = ", ".join(f"{op} ×{n}" for op, n in sorted(warp_out.items()))
                site.where[self.target] = f"portable CPU kernel: {ops}"
                site.fix[self.target] = self.warp_fix(site)
            else:
                site.where[self.target] = "delegated"
        return rows

    def partitioners(self, recipe: Recipe) -> list:
        raise NotImplementedError

    def edge_program(self, component: Component, example, recipe: Recipe,
                     calibration: Sequence[tuple[torch.Tensor, ...]]):
        """The lowered (partitioned) edge program, before serialization."""
        from executorch.exir import to_edge_transform_and_lower

        if recipe.quantize and recipe.quantize.activations == "int8":
            program = quantize_pt2e(component, example, recipe, calibration)
        else:
            program = torch.export.export(component, example, strict=True)
        return to_edge_transform_and_lower(program, partitioner=self.partitioners(recipe))

    def lower(self, component: Component, example, recipe: Recipe,
              calibration: Sequence[tuple[torch.Tensor, ...]], path: Path) -> None:
        edge = self.edge_program(component, example, recipe, calibration)
        with atomic_output(path) as tmp:
            tmp.write_bytes(edge.to_executorch().buffer)

    def host_runner(self, path: Path, threads: int = 2, delegate: str | None = None
                    ) -> HostRunner:
        from executorch.runtime import Runtime

        self.host_delegate(delegate)
        set_threadpool(threads)
        try:
            with logs.native_stderr() as said:
                method = Runtime.get().load_program(str(path)).load_method("forward")
        except RuntimeError as error:
            why = [line for line in said if not line.startswith("[cpuinfo")][-3:]
            raise MpkitError(
                f"{path.name} does not load in the ExecuTorch runtime ({'; '.join(why) or error}):"
                f" {self.name} cannot compile what this recipe made of it; use a recipe that "
                "keeps more in float") from None

        def run(*inputs: np.ndarray) -> list[np.ndarray]:
            outputs = method.execute([torch.from_numpy(np.ascontiguousarray(x)) for x in inputs])
            return [o.numpy() for o in outputs]

        return run


class XnnpackBackend(_ExecuTorchBackend):
    name, target = "executorch-xnnpack", "xnnpack"
    precisions = ("fp32", "int8", "mixed")
    host_delegates = ("xnnpack",)

    def warp_fix(self, site: WarpSite) -> str:
        return ("XNNPACK has no grid sampler, so the warp runs on the portable CPU kernel between "
                "XNNPACK subgraphs: fine on a CPU target (its share is in benchmarks/export.py)")

    def partitioners(self, recipe: Recipe) -> list:
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner

        return [XnnpackPartitioner()]


class VulkanBackend(_ExecuTorchBackend):
    name, target = "executorch-vulkan", "vulkan"
    precisions = ("fp32", "fp16")

    def warp_fix(self, site: WarpSite) -> str:
        if (site.padding_mode, site.align_corners) != ("border", True):
            return (f"Vulkan delegates grid_sampler_2d only with padding_mode=border and "
                    f"align_corners=True; this model uses padding_mode={site.padding_mode}, "
                    f"align_corners={site.align_corners}: set warp: {{padding_mode: border, "
                    "align_corners: true}} in models/<id>/model.yaml and retrain or fine-tune")
        return "the Vulkan partitioner rejected this call (tensor sizes or texture limits)"

    def partitioners(self, recipe: Recipe) -> list:
        from executorch.backends.vulkan.partitioner.vulkan_partitioner import VulkanPartitioner

        return [VulkanPartitioner({"force_fp16": recipe.precision == "fp16"})]

    def host_runner(self, path: Path, threads: int = 2, delegate: str | None = None
                    ) -> HostRunner:
        raise MpkitError("executorch-vulkan artifacts cannot run on this host: the ExecuTorch "
                         "host runtime has no Vulkan backend; validate them on a device")


class QnnBackend(_ExecuTorchBackend):
    name, target = "executorch-qnn", "qnn"
    precisions = ("fp32",)

    def check_available(self) -> None:
        root = os.environ.get("QNN_SDK_ROOT")
        if not root or not Path(root).is_dir():
            raise MpkitError("executorch-qnn needs the Qualcomm AI Engine Direct SDK: set "
                             "QNN_SDK_ROOT to its folder (it is never downloaded)")

    def partitioners(self, recipe: Recipe) -> list:
        raise MpkitError("executorch-qnn lowering is not supported yet (needs a QNN SDK to build "
                         "and test against)")
