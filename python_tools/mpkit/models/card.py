"""The model card: `models/<id>/card.md`, written from measured figures."""

from __future__ import annotations

import math
from pathlib import Path

from mpkit.models.checkpoint import read_metadata
from mpkit.models.config import ModelConfig, models_dir
from mpkit.models.measure import MAC_CONVENTION, ModelStats
from mpkit.media.files import atomic_output

MIXED_KEYPOINTS = """\
- Motion as in TPSMM: 10 TPS transforms × 5 points = 50 **mixed keypoints**, made by an MLP from
  50 neural keypoints (a light CNN on the driving frame) and 106 facial keypoints."""
NEURAL_KEYPOINTS = """\
- Motion as in TPSMM: 10 TPS transforms × 5 points = 50 **neural keypoints** from a light CNN on
  the driving frame, used as they are: this ablation removes the facial keypoints and the mixing
  MLP from the motion input (the facial-knowledge losses and masks stay)."""
DESIGN_NOTES = """\
## How this follows the paper (arXiv 2407.05712) and where it departs
{keypoints}
- **Facial keypoints**: the paper uses a 106-point detector that cannot be had offline; this model
  uses a fixed 106-point subset of MediaPipe's 468-point face mesh
  (`python_tools/mpkit/landmarks/facial106.yaml`).
- **Source masks** (foreground from MediaPipe selfie segmentation, facial-keypoint mask) go into the
  dense-motion U-Net; it outputs the TPS contribution maps, a 2-channel residual flow and 4
  occlusion masks; two training-only heads predict the driving frame's foreground and landmark
  masks.
- **Pseudo background**: the paper inpaints with LaMa; offline, a mask-aware push-pull pyramid fill
  (mask-weighted 2×2 means down, 3/4–1/4 upsampling back, known pixels kept) fills the dilated
  foreground; the Kotlin core computes the same bits (the `Inpainter` interface takes a learned
  inpainter).
- **Pseudo multiview**: the source is warped to the T=4 poses of the model's pose bank
  (`pose_bank.json`: the identity and 3 k-means centres of the affine head motions in the training
  clips), in training and inference alike, so the source stage needs only the photo; their
  lowest-resolution synthesis-encoder features are cached and fused by one 1×1 conv.
- **TPS solve**: a pivoted Gauss–Jordan elimination with static loops inside `dense_motion`
  (`torch.linalg.inv/solve` do not lower to ExecuTorch or LiteRT; see `mpkit/models/tps.py`).
- **Warp**: one `Warp` module (bilinear, padding and align_corners from the config) is the only
  place that samples by a flow field.
- Unknown in the paper and chosen here: U-Net widths and depths (set to match the paper's MACs and
  parameter counts), heatmap variance 0.01, 64² motion resolution, BatchNorm.
"""


def write_card(cfg: ModelConfig, stats: ModelStats, checkpoint: Path | None) -> Path:
    frame, source = stats.stage_gmacs("frame"), stats.stage_gmacs("source")
    lines = [f"# {cfg.id}", "", cfg.description, ""]
    if checkpoint is None:
        lines += ["**Weights: none shipped — untrained.** Outputs of this model are not meaningful "
                  "and every tool says so.", ""]
    else:
        meta = read_metadata(checkpoint)
        lines += [f"**Weights**: `{checkpoint.name}`", ""]
        lines += [f"- {k}: {v}" for k, v in sorted(meta.items())] + [""]
    lines += ["## Measured compute", "", f"Convention: {MAC_CONVENTION}; input "
              f"{cfg.resolution}×{cfg.resolution}.", ""]
    lines += ["| component | stage | GMACs per call | params (M) | calls in source stage |",
              "|---|---|---|---|---|"]
    for c in stats.components:
        lines.append(f"| {c.name} | {c.stage} | {c.gmacs:.3f} | {c.params_m:.2f} | "
                     f"{c.calls_per_source} |")
    lines += ["", "| | measured | paper |", "|---|---|---|",
              f"| frame stage GMACs | {frame:.2f} | {_paper(cfg.paper_gflops)} |",
              f"| source stage GMACs (once per avatar) | {source:.2f} | – |",
              f"| parameters (M, all components) | {stats.params_m:.1f} | "
              f"{_paper(cfg.paper_params_m)} |", ""]
    if cfg.paper_gflops:
        lines += [f"Frame-stage MACs are {100 * (frame / cfg.paper_gflops - 1):+.0f} % and "
                  f"parameters {100 * (stats.params_m / cfg.paper_params_m - 1):+.0f} % off the "
                  "paper's figures (its \"GFLOPs\" are most likely multiply-adds at 256²).", ""]
    lines += ["Parameters per component count shared modules in each component that uses them "
              "(`synthesis` and `multiview` share the synthesis encoder).", ""]
    lines += _evaluation(models_dir() / cfg.id) + _training(models_dir() / cfg.id)
    keypoints = MIXED_KEYPOINTS if cfg.keypoints.use_facial else NEURAL_KEYPOINTS
    lines += [DESIGN_NOTES.format(keypoints=keypoints)]
    path = models_dir() / cfg.id / "card.md"
    with atomic_output(path) as tmp:
        tmp.write_text("\n".join(lines))
    return path


def _evaluation(folder: Path) -> list[str]:
    """The recorded `mpkit eval` figures (numerics.yaml) and the side-by-side still, if any."""
    import yaml

    path = folder / "numerics.yaml"
    if not path.is_file():
        return []
    numerics = yaml.safe_load(path.read_text())
    lines = ["## Evaluation (`numerics.yaml`, written by `mpkit eval --record`)", ""]
    if "identity_distance" in numerics:
        lines += [f"identity_distance: {numerics['identity_distance']}.", ""]
    lines += ["Landmark, expression, mouth and identity figures are averaged over the frames "
              "where the face mesh found a face (`face_found`: their share); – where it found "
              "none. `mouth_error_pct`: how far the mouth's opening plus its width (a smile) are "
              "from the real or driving frame's, in % of the eye-corner distance.", ""]
    if "data" in numerics:
        lines += [f"Cases from {numerics['data']}.", ""]
    for section in numerics.get("sections", []):
        cases = section["cases"]
        metrics = list(dict.fromkeys(m for c in cases.values() for v in c["methods"].values()
                                     for m in v))
        lines += [f"{section['kind'].replace('_', '-')}, {section['people']}:", "",
                  "| case | frames | method | " + " | ".join(metrics) + " |",
                  "|---|---|---|" + "---|" * len(metrics)]
        for case, figures in cases.items():
            for name, v in figures["methods"].items():
                lines.append(f"| {case} | {figures['frames']} | {name} | "
                             + " | ".join(_figure(v.get(m, math.nan)) for m in metrics) + " |")
        lines.append("")
        lines += [f"Not held out for {', '.join(c['trained_on_by'])}: {case} (its checkpoint "
                  "trained on these frames or this photo)." for case, c in cases.items()
                  if c.get("trained_on_by")]
        if any(c.get("trained_on_by") for c in cases.values()):
            lines.append("")
    targets = numerics.get("targets", [])
    if targets:
        met = sum(t["met"] for t in targets)
        lines += [f"Targets (`models/eval_targets.yaml`) on the held-out cases: {met} of "
                  f"{len(targets)} met.", "", "| case | figure | value | target | met |",
                  "|---|---|---|---|---|"]
        lines += [f"| {t['case']} | {t['figure']} | {_figure(t['value'])} | {t['target']} | "
                  f"{'yes' if t['met'] else '**no**'} |" for t in targets]
        lines.append("")
    plots = sorted(folder.glob("self-*.png")) + sorted(folder.glob("cross-*.png"))
    if plots:
        lines += ["Metrics per frame:", ""]
        lines += [line for p in plots for line in (f"![{p.stem}]({p.name})", "")]
    if (folder / "eval_still.jpg").is_file():
        lines += ["One row per case, at the frame where the real (driving) mouth is open widest: "
                  "self-reenactment (real | model | baselines), then cross-reenactment (driving "
                  "| model | baselines).",
                  "", "![eval still](eval_still.jpg)", ""]
    return lines


def _training(folder: Path) -> list[str]:
    """The loss curves and the hand-written training notes, if any."""
    lines = []
    if (folder / "losses.png").is_file():
        lines += ["Training losses:", "", "![losses](losses.png)", ""]
    if (folder / "notes.md").is_file():
        lines += [(folder / "notes.md").read_text().strip(), ""]
    return lines


def _figure(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.3f}"


def _paper(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"
