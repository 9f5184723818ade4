"""Child process that compiles .tflite files with LiteRT's accelerators and (with --serve) runs
them on request: the GPU accelerator can crash the process, so the parent never loads it.

    python -I -m mpkit.gpu.child --model M.tflite [--model N.tflite …] --accelerator gpu
        [--fp32] --report report.json [--serve IN_FD,OUT_FD]

The report says, per model, whether it is fully accelerated and names its inputs and outputs
(the runtime's native logs share stdout, so it goes to a file). The delegate's own verdict goes
to stderr, where the parent reads it. With --serve the child says `compiling` (the model's path)
before each model and `ready` after the last on OUT_FD, then answers each request on IN_FD
(`model`: its index, `arg{i}`: inputs in signature order) with `out{i}` (or `error`) until IN_FD
closes (`mpkit.gpu.wire` messages)."""

from __future__ import annotations

import argparse
import json

import numpy as np

from mpkit.gpu import wire
from mpkit.gpu.litert import CompiledTflite


def serve(models: list[CompiledTflite], requests: int, answers: int) -> None:
    wire.send(answers, ready=np.array(True))
    while True:
        try:
            message = wire.receive(requests)
        except wire.Closed:
            return
        model = models[int(message["model"])]
        try:
            outputs = model(*(message[f"arg{i}"] for i in range(len(message) - 1)))
        except ValueError as e:  # inputs that do not fit the model
            wire.send(answers, error=np.array(str(e)))
            continue
        wire.send(answers, **{f"out{i}": o for i, o in enumerate(outputs)})


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", action="append", required=True)
    p.add_argument("--accelerator", choices=("gpu", "cpu"), required=True)
    p.add_argument("--fp32", action="store_true", help="GPU: compute in fp32 (no fp16)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--report", required=True)
    p.add_argument("--serve", help="IN_FD,OUT_FD: the request and answer pipes")
    args = p.parse_args()

    requests, answers = map(int, args.serve.split(",")) if args.serve else (None, None)
    models = []
    for path in args.model:
        if answers is not None:
            wire.send(answers, compiling=np.array(path))
        models.append(CompiledTflite(path, args.accelerator, args.fp32, args.threads))
    with open(args.report, "w") as f:
        json.dump([{"fully_accelerated": m.fully_accelerated, "inputs": m.inputs,
                    "outputs": m.outputs} for m in models], f)
    if answers is not None:
        serve(models, requests, answers)


if __name__ == "__main__":
    main()
