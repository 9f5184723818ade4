"""Messages between mpkit and its GPU child process over a pipe: each one a set of named numpy
arrays (npz, no pickle) behind its 8-byte length."""

from __future__ import annotations

import io
import os
import select
import struct
import time

import numpy as np

_LENGTH = struct.Struct("<Q")


class Closed(Exception):
    """The other end closed the pipe (exited or crashed)."""


def send(fd: int, **arrays) -> None:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    data = buf.getvalue()
    view = memoryview(_LENGTH.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _read(fd: int, n: int, deadline: float | None) -> bytes:
    chunks, left = [], n
    while left:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise Closed
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive(fd: int, timeout_s: float | None = None) -> dict[str, np.ndarray]:
    """The next message; Closed at end of stream, TimeoutError after `timeout_s`."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    (length,) = _LENGTH.unpack(_read(fd, _LENGTH.size, deadline))
    with np.load(io.BytesIO(_read(fd, length, deadline)), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}
