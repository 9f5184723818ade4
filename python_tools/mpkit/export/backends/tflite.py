"""TFLite / LiteRT via litert-torch; run on this host with ai_edge_litert. The app picks
CPU (XNNPACK), GPU or NNAPI at run time."""

from __future__ import annotations

import contextlib
import dataclasses
import io
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from mpkit.errors import MpkitError
from mpkit.export.backends.base import Backend, HostCheck, HostRunner
from mpkit.export.placement import OpPlacement, WarpSite, tflite_ops, tflite_warp_placement
from mpkit.export.recipes import Recipe
from mpkit.export.tflite_metadata import write_metadata
from mpkit.media.files import atomic_output
from mpkit.models.portrait import Component


# Recipe op kinds → TFLite builtin ops ai-edge-quantizer is told to quantize.
_TFL_OPS = {"conv": ("CONV_2D", "DEPTHWISE_CONV_2D"), "linear": ("FULLY_CONNECTED",)}
# Only the learned layers (an nn.Conv2d / nn.Linear, or a block of them, in the op's scope):
# the TPS solve and the flow sums are 1×1 convolutions by constant ones, arithmetic that must
# stay float (int8 took the deformation to 6 dB SQNR).
_LEARNED_SCOPE = r"torch\.nn\.modules\.(conv\.Conv2d|linear\.Linear)|mpkit\.models\.blocks\."
# ai-edge-quantizer quantizes a tensor over this size through a 2-D view in row chunks.
_QUANTIZER_CHUNK_BYTES = 32 * 1024 * 1024


def quantize_tflite(float_model: bytes, recipe: Recipe,
                    calibration: Sequence[tuple[torch.Tensor, ...]]) -> bytes:
    """ai-edge-quantizer on the converted file (litert-torch's PT2E path fails on this model):
    fp16 weights (computed in float) or static int8 for the recipe's op kinds; I/O stays float."""
    from ai_edge_quantizer import quantizer
    from ai_edge_quantizer.algorithm_manager import AlgorithmName

    q = quantizer.Quantizer(bytearray(float_model))
    ops = [op for kind in recipe.quantize.ops for op in _TFL_OPS[kind]]
    for op in ops:
        if recipe.quantize.weights == "fp16":
            q.add_weight_only_config(_LEARNED_SCOPE, op, 16,
                                     algorithm_key=AlgorithmName.FLOAT_CASTING)
        else:
            q.add_static_config(_LEARNED_SCOPE, op, activation_num_bits=8, weight_num_bits=8)
    result = None
    # The quantizer draws progress bars on stderr for every call; progress is the caller's job.
    with contextlib.redirect_stderr(io.StringIO()), _weights_over_32_mib_in_slices():
        if q.need_calibration:
            # One sample at a time, ranges merged as global min/max: the quantizer's own merge
            # is a moving average dominated by the first sample, which clips the rest
            # (synthesis SQNR 27 dB that way, 39 dB this way, on the validation faces).
            per_sample = [q.calibrate({"serving_default": [{f"args_{i}": x.numpy()
                                                             for i, x in enumerate(args)}]},
                                      num_threads=1)
                          for args in calibration]
            result = _merge_ranges(per_sample)
        quantized = q.quantize(result, enable_progress_bar=False, enable_progress_report=False)
    return _inline_buffers(quantized.quantized_model)


@contextlib.contextmanager
def _weights_over_32_mib_in_slices() -> Iterator[None]:
    """ai-edge-quantizer 0.10.0 cannot quantize a weight over 32 MiB with per-channel scales: its
    chunked path broadcasts the [O,1,1,1] scales to a [O·H·W, I] view ("input operand has more
    dimensions than allowed by the axis remapping", google-ai-edge/ai-edge-quantizer#512). That
    hits mp-16g's widest convolutions. Such a weight is quantized by the same function in slices
    along its output channels, each under the threshold, with its own channels' scales."""
    from ai_edge_quantizer.algorithms.uniform_quantize import uniform_quantize_tensor as uqt

    whole = uqt.uniform_quantize

    def sliced(data: np.ndarray, params, is_blockwise_quant: bool = False) -> np.ndarray:
        if is_blockwise_quant or data.ndim < 2 or data.nbytes <= _QUANTIZER_CHUNK_BYTES:
            return whole(data, params, is_blockwise_quant)
        params = uqt.fix_quantization_params_rank(data, params)
        rows = max(1, data.shape[0] * _QUANTIZER_CHUNK_BYTES // data.nbytes)

        def part(values: np.ndarray, k: int) -> np.ndarray:
            return values[k:k + rows] if values.shape[0] > 1 else values

        return np.concatenate([
            whole(data[k:k + rows], dataclasses.replace(
                params, scale=part(params.scale, k), zero_point=part(params.zero_point, k)))
            for k in range(0, data.shape[0], rows)])

    uqt.uniform_quantize = sliced
    try:
        yield
    finally:
        uqt.uniform_quantize = whole


def _inline_buffers(model: bytes) -> bytes:
    """The quantizer stores buffers over 256 KB after the flatbuffer (offset/size); older
    runtimes and tflite-support's metadata reader cannot follow those, and these models are far
    below flatbuffers' 2 GB limit, so every buffer goes back inline."""
    from ai_edge_litert.tools import flatbuffer_utils

    return bytes(flatbuffer_utils.convert_object_to_bytearray(
        flatbuffer_utils.read_model_from_bytearray(bytearray(model))))


def _merge_ranges(per_sample: list[dict]) -> dict:
    merged = {}
    for name, first in per_sample[0].items():
        if not first:
            merged[name] = first
            continue
        merged[name] = {**first,
                        "min": np.minimum.reduce([s[name]["min"] for s in per_sample]),
                        "max": np.maximum.reduce([s[name]["max"] for s in per_sample])}
    return merged


class TfliteBackend(Backend):
    name, runtime, suffix = "tflite", "litert", ".tflite"
    # One GATHER per warp: as fast as EMBEDDING_LOOKUP on the CPU, and the GPU accelerator runs it
    # (EMBEDDING_LOOKUP crashes it; the converter's grid_sample decomposition is slow and rejected).
    warp = "gather"
    precisions = ("fp32", "fp16", "mixed")
    # cpu: LiteRT's CPU path (XNNPACK kernels); gpu: LiteRT's real GPU accelerator, here on the
    # software Vulkan device (`mpkit gpu setup`), in a process started for it.
    host_delegates = ("cpu", "gpu")
    # The GPU at fp16 compute (what phones use by default) and at fp32.
    host_checks = (HostCheck("cpu", "cpu"), HostCheck("gpu_fp16", "gpu"),
                   HostCheck("gpu_fp32", "gpu", fp32=True))

    def check_precision(self, recipe: Recipe) -> None:
        super().check_precision(recipe)
        if recipe.quantize and "all" in recipe.quantize.ops:
            raise MpkitError(f"tflite: recipe {recipe.name} quantizes every op, which makes the "
                             "model's inputs and outputs int8; use mixed")

    def lower(self, component: Component, example, recipe: Recipe,
              calibration: Sequence[tuple[torch.Tensor, ...]], path: Path) -> None:
        import litert_torch

        with contextlib.redirect_stdout(io.StringIO()):  # the converter's progress chatter
            converted = litert_torch.convert(component.eval(), example)
        with atomic_output(path) as tmp, contextlib.redirect_stdout(io.StringIO()):
            converted.export(str(tmp))
            # Metadata before quantizing: tflite-support's writer drops the quantized file's
            # fp16/int8 weight buffers ("Input tensor N lacks data"); the quantizer keeps it.
            write_metadata(tmp, component, component.cfg.id, f"{recipe.name} recipe")
            if recipe.quantize:
                tmp.write_bytes(quantize_tflite(tmp.read_bytes(), recipe, calibration))

    def check(self, component: Component, example, recipe: Recipe,
              calibration: Sequence[tuple[torch.Tensor, ...]], workdir: Path,
              sites: list[WarpSite]) -> list[OpPlacement]:
        path = workdir / f"{component.name}{self.suffix}"
        self.lower(component, example, recipe, calibration, path)
        rows, warp_ops = tflite_ops(component.name, path)
        for site in sites:
            tflite_warp_placement(site, warp_ops)
        return rows

    @contextlib.contextmanager
    def check_runners(self, check: HostCheck, paths: dict[str, Path], threads: int = 2
                      ) -> Iterator[dict[str, HostRunner]]:
        """The GPU runs in one child process holding every artifact (`mpkit.gpu.accelerator`):
        a crash there is a GpuCrash naming the component, and this process lives on."""
        if check.delegate != "gpu":
            with super().check_runners(check, paths, threads) as runners:
                yield runners
            return
        from mpkit.gpu.accelerator import Session

        with Session(paths, "gpu", check.fp32, threads) as session:
            yield {name: session.runner(name) for name in paths}

    def host_runner(self, path: Path, threads: int = 2, delegate: str | None = None
                    ) -> HostRunner:
        from ai_edge_litert.interpreter import Interpreter

        if self.host_delegate(delegate) == "gpu":
            from mpkit.gpu import software
            from mpkit.gpu.litert import CompiledTflite

            software.require_gpu_process()
            return CompiledTflite(path, "gpu", threads=threads)
        interpreter = Interpreter(model_path=str(path), num_threads=threads)
        runner = interpreter.get_signature_runner()
        outputs = interpreter.get_signature_list()["serving_default"]["outputs"]
        order = sorted(outputs, key=lambda k: int(k.rsplit("_", 1)[1]))

        def run(*inputs: np.ndarray) -> list[np.ndarray]:
            result = runner(**{f"args_{i}": np.ascontiguousarray(x, dtype=np.float32)
                               for i, x in enumerate(inputs)})
            return [result[k] for k in order]

        return run
