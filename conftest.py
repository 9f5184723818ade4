"""Fixtures shared by host and device tests: mp-tiny's fp32 bundle per backend, exported once per
session (each export lowers and validates every component, minutes on this host). Tests only read
these bundles; one that alters a bundle works on a copy."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def fp32_bundle(tmp_path_factory):
    """`fp32_bundle(backend)`: the ExportResult of mp-tiny's fp32 bundle for that backend."""
    from mpkit.export.pipeline import export
    from mpkit.media import assets
    from mpkit.models import zoo

    exported = {}

    def get(backend: str):
        if backend not in exported:
            assets.fetch()
            exported[backend] = export("mp-tiny", backend, "fp32",
                                       tmp_path_factory.mktemp("bundles") / backend,
                                       zoo.default_checkpoint("mp-tiny"))
        return exported[backend]

    return get
