"""One `mpkit eval` run: every clip and photo evaluated, its outputs written, one numerics dict."""

from __future__ import annotations

from pathlib import Path

from mpkit.media.assets import sha256_file
from mpkit.metrics.identity import IdentityEmbedder
from mpkit.models.checkpoint import read_metadata
from mpkit.models.portrait import PortraitModel
from mpkit.train import eval_report
from mpkit.train.evaluate import cross_reenactment, self_reenactment

SELF_PLOTS = ["psnr_db", "face_psnr_db", "landmark_distance_px", "expression_distance_px",
              "identity_distance"]
CROSS_PLOTS = ["expression_distance_px", "identity_distance", "face_found"]
VIDEO_FPS = 10


def run_evaluation(models: dict[str, PortraitModel], weights: dict[str, Path | None],
                   videos: list[Path], photos: list[Path], holdout: float,
                   identity: IdentityEmbedder | None, identity_note: str, output_dir: Path,
                   record_dir: Path | None = None) -> dict:
    """Evaluate `models` (the first is the model under test, the others ablations) with the
    identity-copy baseline; write side-by-side videos, per-frame plots, `numerics.yaml` and the
    card still to `output_dir`, and all but the videos to `record_dir` too. Photos are driven by
    the first video."""
    name, *ablations = models
    numerics = {"model": name, "checkpoint": _describe(weights[name]),
                "ablations": {a: _describe(weights[a]) for a in ablations},
                "holdout": holdout, "identity_distance": identity_note,
                "self_reenactment": {}, "cross_reenactment": {}}
    output_dir.mkdir(parents=True, exist_ok=True)
    folders = [output_dir] + ([record_dir] if record_dir else [])
    sections = []
    for video in videos:
        real, runs = self_reenactment(models, video, holdout, identity)
        sections.append((real, "real", runs))
        numerics["self_reenactment"][video.name] = {
            "frames": len(real), **{n: r.summary() for n, r in runs.items()}}
        eval_report.side_by_side(output_dir / f"self-{video.stem}.mp4", real, "real", runs,
                                 VIDEO_FPS)
        for folder in folders:
            eval_report.plot(folder / f"self-{video.stem}.png", runs, SELF_PLOTS,
                             f"self-reenactment, held-out frames of {video.name}")
    for photo in photos:
        driving, runs = cross_reenactment(models, photo, videos[0], identity)
        sections.append((driving, "driving", runs))
        key = f"{photo.stem} <- {videos[0].name}"
        numerics["cross_reenactment"][key] = {
            "frames": len(driving), **{n: r.summary() for n, r in runs.items()}}
        eval_report.side_by_side(output_dir / f"cross-{photo.stem}.mp4", driving, "driving",
                                 runs, VIDEO_FPS)
        for folder in folders:
            eval_report.plot(folder / f"cross-{photo.stem}.png", runs, CROSS_PLOTS,
                             f"cross-reenactment: {key}")
    for folder in folders:
        eval_report.write_numerics(folder / "numerics.yaml", numerics)
        eval_report.still(folder / "eval_still.jpg", sections)
    return numerics


def _describe(path: Path | None) -> dict | None:
    if path is None or not path.is_file():
        return None
    meta = read_metadata(path)
    return {"file": path.name, "sha256": sha256_file(path), "step": meta.get("step")}
