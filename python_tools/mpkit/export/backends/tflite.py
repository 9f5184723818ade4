"""TFLite / LiteRT via litert-torch; run on this host with ai_edge_litert. The app picks
CPU (XNNPACK), GPU or NNAPI at run time."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from mpkit.export.backends.base import Backend, HostRunner
from mpkit.export.recipes import Recipe
from mpkit.media.files import atomic_output
from mpkit.models.portrait import Component


class TfliteBackend(Backend):
    name, runtime, suffix = "tflite", "litert", ".tflite"
    warp = "embed"  # the converter's grid_sample decomposition is slow and not GPU-delegable
    precisions = ("fp32",)

    def lower(self, component: Component, example, recipe: Recipe,
              calibration: Sequence[tuple[torch.Tensor, ...]], path: Path) -> None:
        import litert_torch

        converted = litert_torch.convert(component.eval(), example)
        with atomic_output(path) as tmp:
            converted.export(str(tmp))

    def host_runner(self, path: Path, threads: int = 2) -> HostRunner:
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(path), num_threads=threads)
        runner = interpreter.get_signature_runner()
        outputs = interpreter.get_signature_list()["serving_default"]["outputs"]
        order = sorted(outputs, key=lambda k: int(k.rsplit("_", 1)[1]))

        def run(*inputs: np.ndarray) -> list[np.ndarray]:
            result = runner(**{f"args_{i}": np.ascontiguousarray(x, dtype=np.float32)
                               for i, x in enumerate(inputs)})
            return [result[k] for k in order]

        return run
