"""Reads TensorFlow.js weights: the weights manifest (a `*-weights_manifest.json`, or the
`weightsManifest` of a graph model's model.json) and its binary shards, with TF.js's weight
quantization undone (uint8/uint16: q * scale + min; float16: widened)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mpkit.errors import AssetError

_DTYPES = {"float32": np.float32, "int32": np.int32}
_STORED = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}


def read_weights(groups: list[dict], shards: list[Path], source: str) -> dict[str, np.ndarray]:
    """Every weight of the manifest `groups` (one group), read from `shards` (its binary files in
    order), as float32/int32 arrays of the manifest's shapes. `source` names it in errors."""
    if len(groups) != 1:
        raise AssetError(f"{source}: expected one weights group, found {len(groups)}")
    data = b"".join(p.read_bytes() for p in shards)
    out: dict[str, np.ndarray] = {}
    offset = 0
    for w in groups[0]["weights"]:
        dtype, count = _DTYPES.get(w["dtype"]), int(np.prod(w["shape"], dtype=np.int64))
        q = w.get("quantization")
        stored = _STORED.get(q["dtype"]) if q else dtype
        if dtype is None or stored is None:
            raise AssetError(f"{source}: weight {w['name']} is {w['dtype']} stored as "
                             f"{q['dtype'] if q else w['dtype']}, which this reader does not know")
        size = count * np.dtype(stored).itemsize
        if offset + size > len(data):
            raise AssetError(f"{source}: the weights end inside {w['name']} (truncated file?)")
        raw = np.frombuffer(data, stored, count, offset)
        offset += size
        value = raw * np.float64(q["scale"]) + q["min"] if q and "scale" in q else raw
        out[w["name"]] = value.astype(dtype).reshape(w["shape"])
    if offset != len(data):
        raise AssetError(f"{source}: {len(data) - offset} bytes left after the last weight")
    return out
