"""One `mpkit eval` run: every case of a plan evaluated, its outputs written, one numerics dict
with a table per section and the targets checked on the held-out cases."""

from __future__ import annotations

import json
import re
from pathlib import Path

from mpkit.media.assets import sha256_file
from mpkit.metrics.identity import IdentityEmbedder
from mpkit.models.checkpoint import read_metadata
from mpkit.models.portrait import PortraitModel
from mpkit.train import eval_report
from mpkit.train.eval_plan import UNKNOWN, ClipCase, PhotoCase, Plan, seen_in_training
from mpkit.train.eval_targets import Targets, check
from mpkit.train.evaluate import cross_reenactment, self_reenactment, widest_mouth

SELF_PLOTS = ["psnr_db", "face_psnr_db", "landmark_distance_px", "expression_distance_px",
              "mouth_error_pct", "identity_distance"]
CROSS_PLOTS = ["expression_distance_px", "mouth_error_pct", "identity_distance", "face_found"]
VIDEO_FPS = 10


def run_evaluation(models: dict[str, PortraitModel], weights: dict[str, Path | None],
                   plan: Plan, plan_source: str, targets: Targets, identity: IdentityEmbedder | None,
                   identity_note: str, output_dir: Path, record_dir: Path | None = None,
                   progress=lambda case: None) -> dict:
    """Evaluate `models` (the first is the model under test, the others ablations) with the
    identity-copy baseline on every case of `plan`; write side-by-side videos, per-frame plots,
    `numerics.yaml` (after each case) and the card still (a row per case, at its widest driving
    mouth) to `output_dir`, and all but the videos to `record_dir` too. `progress(case)` is
    called as each case starts."""
    name, *ablations = models
    numerics = {"model": name, "checkpoint": _describe(weights[name]),
                "ablations": {a: _describe(weights[a]) for a in ablations},
                "identity_distance": identity_note, "data": plan_source,
                "sections": [], "targets": []}
    output_dir.mkdir(parents=True, exist_ok=True)
    folders = [output_dir] + ([record_dir] if record_dir else [])
    stills = []
    for case in plan.clips:
        progress(case.describe())
        real, runs = self_reenactment(models, case.load(), identity)
        stills.append(eval_report.row(real, f"real {case.name}", runs, widest_mouth(real)))
        _add(numerics, targets, "self_reenactment", case.people, case.describe(), len(real),
             runs, _seen(weights, case))
        stem = f"self-{_slug(case.describe())}"
        eval_report.side_by_side(output_dir / f"{stem}.mp4", real, "real", runs, VIDEO_FPS)
        for folder in folders:
            eval_report.plot(folder / f"{stem}.png", runs, SELF_PLOTS,
                             f"self-reenactment: {case.describe()}")
            eval_report.write_numerics(folder / "numerics.yaml", numerics)
    for photo in plan.photos:
        image = photo.load()
        for driver in plan.drivers:
            key = f"{photo.name} <- {driver.describe()}"
            progress(key)
            driving, runs = cross_reenactment(models, image, driver.load(), identity)
            stills.append(eval_report.row(driving, f"driving {driver.name}", runs,
                                          widest_mouth(driving)))
            _add(numerics, targets, "cross_reenactment", _cross_people(photo.people, driver),
                 key, len(driving), runs, _seen(weights, driver, photo))
            stem = f"cross-{_slug(photo.name)}-{_slug(driver.describe())}"
            eval_report.side_by_side(output_dir / f"{stem}.mp4", driving, "driving", runs,
                                     VIDEO_FPS)
            for folder in folders:
                eval_report.plot(folder / f"{stem}.png", runs, CROSS_PLOTS,
                                 f"cross-reenactment: {key}")
                eval_report.write_numerics(folder / "numerics.yaml", numerics)
    for folder in folders:
        eval_report.still(folder / "eval_still.jpg", stills)
    return numerics


def _seen(weights: dict[str, Path | None], clip: ClipCase, photo: PhotoCase | None = None
          ) -> list[str]:
    """The models whose checkpoint's own training record includes frames (or the photo) of the
    case: what the plan declares held out, each checkpoint is checked against."""
    seen = []
    for name, path in weights.items():
        config = _train_config(path)
        if config is not None and seen_in_training(config, clip, photo):
            seen.append(name)
    return seen


def _train_config(path: Path | None) -> dict | None:
    if path is None or not path.is_file():
        return None
    recorded = read_metadata(path).get("train_config")
    return json.loads(recorded) if recorded else None


def _add(numerics: dict, targets: Targets, kind: str, people: str, key: str, frames: int,
         runs: dict, seen_by: list[str]) -> None:
    """Adds a case to its section (kind × people), and its target checks unless the case came
    from the command line or the model under test trained on it (`seen_by`: models whose
    training included the case's frames)."""
    methods = {n: r.summary() for n, r in runs.items()}
    section = next((s for s in numerics["sections"]
                    if s["kind"] == kind and s["people"] == people), None)
    if section is None:
        section = {"kind": kind, "people": people, "cases": {}}
        numerics["sections"].append(section)
    section["cases"][key] = {"frames": frames, "methods": methods,
                             **({"trained_on_by": seen_by} if seen_by else {})}
    if people != UNKNOWN and numerics["model"] not in seen_by:
        numerics["targets"] += check(targets, kind, key, numerics["model"], methods)


def _cross_people(photo_people: str, driver: ClipCase) -> str:
    """A cross-reenactment case is about people never in training only if its photo's person
    never was; the driving clip's frames are held out either way."""
    return UNKNOWN if UNKNOWN in (photo_people, driver.people) else photo_people


def _slug(text: str) -> str:
    """A file-name stem: "franck [4000, 4998)" -> "franck-4000-4998"."""
    return re.sub(r"[^A-Za-z0-9_]+", "-", text).strip("-")


def _describe(path: Path | None) -> dict | None:
    if path is None or not path.is_file():
        return None
    meta = read_metadata(path)
    return {"file": path.name, "sha256": sha256_file(path), "step": meta.get("step")}
