"""Backends: one class per target, registered by name. Heavy imports happen inside methods."""

from __future__ import annotations

from mpkit.errors import UnknownNameError
from mpkit.export.backends.base import Backend
from mpkit.export.backends.executorch import QnnBackend, VulkanBackend, XnnpackBackend
from mpkit.export.backends.tflite import TfliteBackend

BACKENDS: dict[str, type[Backend]] = {
    b.name: b for b in (XnnpackBackend, VulkanBackend, QnnBackend, TfliteBackend)
}


def get_backend(name: str) -> Backend:
    if name not in BACKENDS:
        raise UnknownNameError(f"unknown backend {name!r}; known: {', '.join(BACKENDS)}")
    return BACKENDS[name]()
