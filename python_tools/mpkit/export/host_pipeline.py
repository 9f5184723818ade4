"""A bundle's own pipeline on this host: mpkit's Animator with the bundle's components on the
host runtime and its helper models and pose bank (never the host's asset cache or models/)."""

from __future__ import annotations

from pathlib import Path

from mpkit.pipeline.animator import Animator


def bundle_animator(bundle: Path, delegate: str | None = None, threads: int = 2) -> Animator:
    """The Animator the app's pipeline is checked against; `delegate` must be one the bundle
    was validated for (None: its default)."""
    from mpkit.export import validate
    from mpkit.export.backends import get_backend
    from mpkit.export.bundle import pose_bank, verify
    from mpkit.landmarks.face import FaceLandmarker, Segmenter
    from mpkit.models import zoo

    manifest = verify(bundle)
    backend = get_backend(manifest.backend)
    chosen = manifest.delegate(backend.host_delegate(delegate))
    helpers = {h.role: bundle / h.file for h in manifest.helpers}
    runners = {c.name: validate.as_component(backend.host_runner(
        bundle / c.file, threads=threads, delegate=chosen)) for c in manifest.components}
    return Animator(zoo.build(manifest.model_id), runners=runners,
                    landmarker=FaceLandmarker(files=helpers),
                    segmenter=Segmenter(path=helpers["segmenter"]),
                    pose_bank=pose_bank(bundle, manifest))
