"""Child process that compiles one .tflite with LiteRT's accelerators and (optionally) runs it on
a batch of samples: the GPU accelerator can crash the process, so the parent never loads it.

    python -I -m mpkit.gpu.child --model M.tflite --accelerator gpu [--fp32]
        --report report.json [--inputs in.npz --outputs out.npz]

Inputs are `s{k}_arg{i}` (sample k, argument i), outputs `s{k}_out{i}`. The report says whether
the model is fully accelerated and names its inputs and outputs (the runtime's native logs share
stdout, so it goes to a file). The delegate's own verdict goes to stderr, where the parent reads
it."""

from __future__ import annotations

import argparse
import json

import numpy as np

from mpkit.gpu.litert import CompiledTflite


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

    model = CompiledTflite(args.model, args.accelerator, args.fp32, args.threads)
    with open(args.report, "w") as f:
        json.dump({"fully_accelerated": model.fully_accelerated, "inputs": model.inputs,
                   "outputs": model.outputs}, f)
    if args.inputs:
        with np.load(args.inputs) as data:
            samples = sorted({int(k.split("_")[0][1:]) for k in data.files})
            result = {}
            for k in samples:
                outputs = model(*(data[f"s{k}_arg{i}"] for i in range(len(model.inputs))))
                result.update({f"s{k}_out{i}": o for i, o in enumerate(outputs)})
        np.savez(args.outputs, **result)


if __name__ == "__main__":
    main()
