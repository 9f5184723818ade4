"""The virtual device's runtimes for the app's Kotlin core on the host JVM: a child process that
loads a bundle's components on the host runtime, and its LiteRT helper models (the face detector
and mesh) on the LiteRT interpreter, and runs them by name on raw tensors over its stdin and
stdout. Only files the bundle's verified manifest lists are loaded. Each run reports the time
spent inside the runtime, so the caller can report the bridge's own overhead separately.

Frames both ways: a little-endian u32 header length, the header (UTF-8 JSON), then the header's
tensors as little-endian float32, C order, one after the other.
  {"op": "load", "bundle": DIR, "delegate": D|null, "threads": N}
      → {"runtime": R, "delegate": D, "components": {name: {"inputs": [...], "outputs": [...]}},
         "helpers": {name: {"inputs": [...], "outputs": [...]}}}   (helpers run on the CPU)
  {"op": "run", "component": NAME, "inputs": [{"name": N, "shape": [...]}, ...]} + tensors
      → {"outputs": [{"name": N, "shape": [...]}, ...], "runtime_ms": T} + tensors
  {"op": "decode", "helper": ROLE}   (after load: the bundle's sample photo or driving clip)
      → {"frames": [{"name": ROLE, "shape": [N, H, W, 3]}]} + RGB values 0..255 as float32
        (what a phone's platform decoders give the app; a clip stops at the tensor cap)
  {"op": "quit"}
A failure answers {"error": MESSAGE} and the bridge keeps serving; a malformed frame ends it.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import time
from pathlib import Path
from typing import BinaryIO

import numpy as np

from mpkit.errors import MpkitError

MAX_HEADER_BYTES = 1 << 16
MAX_TENSOR_BYTES = 1 << 28


class BridgeError(MpkitError):
    """A frame that does not follow the bridge's format."""


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    data = stream.read(n)
    if data is None or len(data) != n:
        raise BridgeError(f"the stream ended {n - len(data or b'')} bytes early")
    return data


def read_frame(stream: BinaryIO, tensors_key: str) -> tuple[dict, list[np.ndarray]] | None:
    """(header, tensors) or None at a clean end of the stream."""
    head = stream.read(4)
    if not head:
        return None
    if len(head) != 4:
        raise BridgeError("the stream ended inside a frame length")
    (length,) = struct.unpack("<I", head)
    if length > MAX_HEADER_BYTES:
        raise BridgeError(f"a {length}-byte header is over the {MAX_HEADER_BYTES}-byte cap")
    header = json.loads(_read_exact(stream, length))
    if not isinstance(header, dict):
        raise BridgeError("a header is a JSON object")
    tensors = []
    for spec in header.get(tensors_key, []):
        shape = [int(d) for d in spec["shape"]]
        if any(d < 0 for d in shape):
            raise BridgeError(f"{spec.get('name')}: negative dimension in {shape}")
        nbytes = 4 * int(np.prod(shape, dtype=np.int64))
        if nbytes > MAX_TENSOR_BYTES:
            raise BridgeError(f"{spec.get('name')}: {nbytes} bytes is over the tensor cap")
        raw = _read_exact(stream, nbytes)
        tensors.append(np.frombuffer(raw, dtype="<f4").reshape(shape))
    return header, tensors


def write_frame(stream: BinaryIO, header: dict, tensors: list[np.ndarray] = ()) -> None:
    body = json.dumps(header).encode()
    stream.write(struct.pack("<I", len(body)) + body)
    for t in tensors:
        stream.write(np.ascontiguousarray(t, dtype="<f4").tobytes())
    stream.flush()


def _helper(path: Path, threads: int):
    """A helper .tflite (MediaPipe's, no signature) on the LiteRT interpreter, as face.py runs
    it: the runner and its input and output specs in the model's order."""
    from ai_edge_litert.interpreter import Interpreter

    net = Interpreter(model_path=str(path), num_threads=threads)
    net.allocate_tensors()
    ins, outs = net.get_input_details(), net.get_output_details()

    def run(*inputs: np.ndarray) -> list[np.ndarray]:
        for d, x in zip(ins, inputs, strict=True):
            net.set_tensor(d["index"], x)
        net.invoke()
        return [net.get_tensor(d["index"]).copy() for d in outs]

    spec = lambda ds: [{"name": d["name"], "shape": d["shape"].tolist()} for d in ds]  # noqa: E731
    return run, {"inputs": spec(ins), "outputs": spec(outs)}


class _Session:
    def __init__(self):
        self.runners: dict = {}
        self.specs: dict = {}  # name → {"inputs": [{name, shape}], "outputs": [...]}
        self.media: dict[str, Path] = {}  # the verified bundle's sample media by role

    def load(self, header: dict) -> dict:
        from mpkit.export.backends import get_backend
        from mpkit.export.bundle import verify

        bundle = Path(header["bundle"])
        manifest = verify(bundle)
        backend = get_backend(manifest.backend)
        # Only a delegate the bundle was validated for, and only one this host really runs.
        delegate = manifest.delegate(backend.host_delegate(header.get("delegate")))
        threads = int(header.get("threads", 2))
        self.runners = {c.name: backend.host_runner(bundle / c.file, threads=threads,
                                                    delegate=delegate)
                        for c in manifest.components}
        self.specs = {c.name: {"inputs": [t.model_dump() for t in c.inputs],
                               "outputs": [t.model_dump() for t in c.outputs]}
                      for c in manifest.components}
        helpers = {}
        for h in manifest.helpers:
            if h.runtime == "litert" and h.file.endswith(".tflite"):
                if h.name in self.runners:
                    raise MpkitError(f"{bundle}: helper {h.name!r} has a component's name")
                self.runners[h.name], helpers[h.name] = _helper(bundle / h.file, threads)
        components = dict(self.specs)
        self.specs.update(helpers)
        self.media = {h.role: bundle / h.file for h in manifest.helpers
                      if h.role in ("sample_source", "sample_driving")}
        return {"runtime": manifest.runtime, "delegate": delegate, "components": components,
                "helpers": helpers}

    def decode(self, header: dict) -> tuple[dict, list[np.ndarray]]:
        from mpkit.media.image import read_image
        from mpkit.media.kind import is_video
        from mpkit.media.video import read_frames, video_info

        role = header.get("helper")
        if role not in self.media:
            raise MpkitError(f"no sample media {role!r} in the loaded bundle; it has: "
                             f"{', '.join(self.media) or 'none (send load first)'}")
        path = self.media[role]
        if is_video(path):
            info = video_info(path)
            limit = max(1, MAX_TENSOR_BYTES // (4 * 3 * info.width * info.height))
            frames = np.stack(list(read_frames(path, limit=limit)))
        else:
            frames = read_image(path)[None]
        return {"frames": [{"name": role, "shape": list(frames.shape)}]}, [frames]

    def run(self, header: dict, tensors: list[np.ndarray]) -> tuple[dict, list[np.ndarray]]:
        name = header.get("component")
        if name not in self.runners:
            raise MpkitError(f"no component {name!r} loaded; loaded: "
                             f"{', '.join(self.runners) or 'none (send load first)'}")
        spec = self.specs[name]
        got = [(i["name"], list(t.shape)) for i, t in zip(header["inputs"], tensors)]
        want = [(t["name"], t["shape"]) for t in spec["inputs"]]
        if got != want:
            raise MpkitError(f"{name} takes {want}, got {got}")
        start = time.perf_counter()
        outputs = [np.asarray(o) for o in self.runners[name](*tensors)]
        ms = (time.perf_counter() - start) * 1e3
        return ({"outputs": [{"name": t["name"], "shape": list(o.shape)}
                             for t, o in zip(spec["outputs"], outputs, strict=True)],
                 "runtime_ms": ms}, outputs)


def serve(inp: BinaryIO, out: BinaryIO) -> None:
    session = _Session()
    while (frame := read_frame(inp, "inputs")) is not None:
        header, tensors = frame
        op = header.get("op")
        if op == "quit":
            return
        try:
            if op == "load":
                write_frame(out, session.load(header))
            elif op == "run":
                write_frame(out, *session.run(header, tensors))
            elif op == "decode":
                write_frame(out, *session.decode(header))
            else:
                write_frame(out, {"error": f"unknown op {op!r}; ops: load, run, decode, quit"})
        except (MpkitError, KeyError, ValueError, TypeError) as e:
            write_frame(out, {"error": str(e) if isinstance(e, MpkitError)
                              else f"{type(e).__name__}: {e}"})


def main() -> None:
    # The frames own stdout; runtimes log there from native code too (the GPU accelerator
    # does), so file descriptor 1 itself becomes stderr and the frames keep a copy of it.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(sys.stdin.buffer, out)


if __name__ == "__main__":
    main()
