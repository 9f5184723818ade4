"""A .tflite compiled by LiteRT's CompiledModel API for the CPU or the GPU accelerator (CPU
fallback), called with numpy arrays in signature order. The GPU accelerator can crash its
process: load it only in a process made for it (`mpkit.gpu.child`, the virtual device's
tensor bridge), with `software.child_env()` in its environment."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _order(names: list[str]) -> list[str]:
    """`args_0, args_1, …` / `output_0, …` in index order (litert-torch's signature names)."""
    return sorted(names, key=lambda k: int(k.rsplit("_", 1)[1]) if k[-1].isdigit() else 0)


class CompiledTflite:
    def __init__(self, path: Path, accelerator: str, fp32: bool = False, threads: int = 2):
        from ai_edge_litert.compiled_model import (
            CompiledModel, CpuOptions, GpuOptions, HardwareAccelerator, Options,
        )

        accel = HardwareAccelerator.CPU
        if accelerator == "gpu":
            accel |= HardwareAccelerator.GPU
        elif accelerator != "cpu":
            raise ValueError(f"accelerator {accelerator!r}: cpu or gpu")
        # enforce_f32=False lets the GPU compute in fp16 where it can, as phones do by default.
        options = Options(hardware_accelerators=accel, cpu_options=CpuOptions(num_threads=threads),
                          gpu_options=GpuOptions(enforce_f32=fp32))
        self.model = CompiledModel.from_file(str(path), options=options)
        (self.key, signature), = self.model.get_signature_list().items()
        self.inputs, self.outputs = _order(signature["inputs"]), _order(signature["outputs"])
        self.fully_accelerated = self.model.is_fully_accelerated()
        shapes = self.model.get_output_tensor_details(self.key)
        self.shapes = [tuple(shapes[name]["shape"]) for name in self.outputs]
        self.feed = {n: self.model.create_input_buffer_by_name(self.key, n) for n in self.inputs}
        self.out = {n: self.model.create_output_buffer_by_name(self.key, n) for n in self.outputs}

    def __call__(self, *inputs: np.ndarray) -> list[np.ndarray]:
        if len(inputs) != len(self.inputs):
            raise ValueError(f"{len(inputs)} inputs for a model that takes {len(self.inputs)}")
        for name, x in zip(self.inputs, inputs):
            self.feed[name].write(np.ascontiguousarray(x, dtype=np.float32))
        self.model.run_by_name(self.key, self.feed, self.out)
        return [self.out[n].read(int(np.prod(s)), np.float32).reshape(s)
                for n, s in zip(self.outputs, self.shapes)]
