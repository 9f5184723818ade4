"""Child process that compiles one .tflite with LiteRT's accelerators and (optionally) runs it:
the GPU accelerator can crash the process, so the parent never loads it itself.

    python -I -m mpkit.gpu.child --model M.tflite --accelerator gpu [--fp32]
        --report report.json [--inputs in.npz --outputs out.npz]

Writes whether the model is fully accelerated and its signature's input and output names in
call order to the report file (the runtime's native logs share stdout). The delegate's own
verdict goes to stderr, where the parent reads it."""

from __future__ import annotations

import argparse
import json

import numpy as np


def _order(names: list[str]) -> list[str]:
    """`args_0, args_1, …` / `output_0, …` in index order (litert-torch's signature names)."""
    return sorted(names, key=lambda k: int(k.rsplit("_", 1)[1]) if k[-1].isdigit() else 0)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--accelerator", choices=("gpu", "cpu"), required=True)
    p.add_argument("--fp32", action="store_true", help="GPU: compute in fp32 (no fp16)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--report", required=True)
    p.add_argument("--inputs")
    p.add_argument("--outputs")
    args = p.parse_args()

    from ai_edge_litert.compiled_model import (
        CompiledModel, CpuOptions, GpuOptions, HardwareAccelerator, Options,
    )

    accel = HardwareAccelerator.CPU
    if args.accelerator == "gpu":
        accel |= HardwareAccelerator.GPU
    options = Options(hardware_accelerators=accel, cpu_options=CpuOptions(num_threads=args.threads),
                      gpu_options=GpuOptions(enforce_f32=args.fp32))
    model = CompiledModel.from_file(args.model, options=options)
    (key, signature), = model.get_signature_list().items()
    inputs, outputs = _order(signature["inputs"]), _order(signature["outputs"])
    with open(args.report, "w") as f:
        json.dump({"fully_accelerated": model.is_fully_accelerated(), "inputs": inputs,
                   "outputs": outputs}, f)
    if args.inputs:
        data = np.load(args.inputs)
        details = model.get_output_tensor_details(key)
        feed = {name: model.create_input_buffer_by_name(key, name) for name in inputs}
        for i, name in enumerate(inputs):
            feed[name].write(np.ascontiguousarray(data[f"arg{i}"], dtype=np.float32))
        out = {name: model.create_output_buffer_by_name(key, name) for name in outputs}
        model.run_by_name(key, feed, out)
        result = {}
        for i, name in enumerate(outputs):
            shape = details[name]["shape"]
            result[f"out{i}"] = out[name].read(int(np.prod(shape)), np.float32).reshape(shape)
        np.savez(args.outputs, **result)


if __name__ == "__main__":
    main()
