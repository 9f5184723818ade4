"""ExecuTorch backends: XNNPACK (CPU), Vulkan (GPU, lowered ahead of time), QNN (needs an SDK)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from mpkit.errors import MpkitError
from mpkit.export.backends.base import Backend, HostRunner
from mpkit.export.recipes import Recipe
from mpkit.models.portrait import Component
from mpkit.media.files import atomic_output


# Recipe op kinds → the ATen ops the PT2E quantizer is told to annotate.
_ATEN_OPS = {"conv": (torch.ops.aten.conv2d.default,), "linear": (torch.ops.aten.linear.default,)}


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
    else:
        for kind in recipe.quantize.ops:
            for op in _ATEN_OPS[kind]:
                quantizer.set_operator_type(op, config)
    graph = prepare_pt2e(torch.export.export(component, example, strict=True).module(), quantizer)
    for args in calibration:
        graph(*args)
    return torch.export.export(convert_pt2e(graph), example, strict=True)


class _ExecuTorchBackend(Backend):
    runtime, suffix, warp = "executorch", ".pte", "grid_sample"

    def partitioners(self, recipe: Recipe) -> list:
        raise NotImplementedError

    def lower(self, component: Component, example, recipe: Recipe,
              calibration: Sequence[tuple[torch.Tensor, ...]], path: Path) -> None:
        from executorch.exir import to_edge_transform_and_lower

        if recipe.quantize and recipe.quantize.activations == "int8":
            program = quantize_pt2e(component, example, recipe, calibration)
        else:
            program = torch.export.export(component, example, strict=True)
        edge = to_edge_transform_and_lower(program, partitioner=self.partitioners(recipe))
        with atomic_output(path) as tmp:
            tmp.write_bytes(edge.to_executorch().buffer)

    def host_runner(self, path: Path) -> HostRunner:
        from executorch.runtime import Runtime

        method = Runtime.get().load_program(str(path)).load_method("forward")

        def run(*inputs: np.ndarray) -> list[np.ndarray]:
            outputs = method.execute([torch.from_numpy(np.ascontiguousarray(x)) for x in inputs])
            return [o.numpy() for o in outputs]

        return run


class XnnpackBackend(_ExecuTorchBackend):
    name = "executorch-xnnpack"
    precisions = ("fp32", "int8", "mixed")

    def partitioners(self, recipe: Recipe) -> list:
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner

        return [XnnpackPartitioner()]


class VulkanBackend(_ExecuTorchBackend):
    name = "executorch-vulkan"
    precisions = ("fp32", "fp16")
    host_runnable = False

    def partitioners(self, recipe: Recipe) -> list:
        from executorch.backends.vulkan.partitioner.vulkan_partitioner import VulkanPartitioner

        return [VulkanPartitioner({"force_fp16": recipe.precision == "fp16"})]

    def host_runner(self, path: Path) -> HostRunner:
        raise MpkitError("executorch-vulkan artifacts cannot run on this host: the ExecuTorch "
                         "host runtime has no Vulkan backend; validate them on a device")


class QnnBackend(_ExecuTorchBackend):
    name = "executorch-qnn"
    precisions = ("fp32",)
    host_runnable = False

    def check_available(self) -> None:
        root = os.environ.get("QNN_SDK_ROOT")
        if not root or not Path(root).is_dir():
            raise MpkitError("executorch-qnn needs the Qualcomm AI Engine Direct SDK: set "
                             "QNN_SDK_ROOT to its folder (it is never downloaded)")

    def partitioners(self, recipe: Recipe) -> list:
        raise MpkitError("executorch-qnn lowering is not supported yet (needs a QNN SDK to build "
                         "and test against)")
