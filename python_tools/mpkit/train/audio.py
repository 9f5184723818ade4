"""Training the audio-to-keypoints network on aligned speech (`models/audio_clips.yaml`), and its
lip-sync figure with the controls that expose a mouth flapping at random.

Every clip becomes one feature window and one mouth-state target (from its phone alignment
through the viseme table) per video frame. The held-out clips are read only by `sync_figures`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from mpkit.audio import mouth_basis, visemes
from mpkit.audio.decode import read_audio
from mpkit.audio.features import FeatureSpec, frame_windows, load_spec
from mpkit.configfile import load_yaml
from mpkit.media.assets import asset_path
from mpkit.models.audio import AudioComponent, AudioDriver, load_net_config
from mpkit.models.config import models_dir
from mpkit.models.portrait import PortraitModel


class SpeechClip(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    audio: str  # an asset name or a path
    alignment: str  # its pocketsphinx phone alignment (asset name or path)


class SpeechData(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    fps: float = Field(gt=0)
    train: list[SpeechClip] = Field(min_length=1)
    held_out: list[SpeechClip] = []


def load_data(path: Path | None = None) -> SpeechData:
    return load_yaml(SpeechData, path or models_dir() / "audio_clips.yaml")


def _path(name: str) -> Path:
    return Path(name) if Path(name).is_file() else asset_path(name)


@dataclass
class Pairs:
    windows: np.ndarray  # [N, mels, context] log-mel
    targets: np.ndarray  # [N, 2] mouth state relative to rest
    clips: np.ndarray  # [N] the clip index of each row


def pairs(clips: list[SpeechClip], fps: float, spec: FeatureSpec, table: visemes.VisemeTable,
          shapes: visemes.MouthShapes) -> Pairs:
    windows, targets, owner = [], [], []
    for i, clip in enumerate(clips):
        w = frame_windows(spec, read_audio(_path(clip.audio), spec.sample_rate).samples, fps,
                          clip.audio)
        phones = visemes.read_alignment(_path(clip.alignment))
        windows.append(w)
        targets.append(visemes.frame_targets(table, shapes, phones, fps, len(w), clip.alignment))
        owner.append(np.full(len(w), i))
    return Pairs(np.concatenate(windows), np.concatenate(targets), np.concatenate(owner))


def _targets() -> tuple[FeatureSpec, visemes.VisemeTable, visemes.MouthShapes]:
    table = visemes.load_table()
    return load_spec(), table, visemes.measure_shapes(table, visemes.clip_mouth_states(table))


def train(model: PortraitModel, steps: int = 3000, batch: int = 64, lr: float = 1e-3,
          seed: int = 0, data: SpeechData | None = None) -> tuple[AudioDriver, list[float]]:
    """A trained driver for `model` (its mouth basis measured first) and the loss per step.
    Augmented with a random level (±10 dB, a shift of the log-mel) per window."""
    data = data or load_data()
    spec, table, shapes = _targets()
    driver = AudioDriver(model.cfg, load_net_config(), spec)
    driver.mouth_basis.basis.copy_(torch.from_numpy(mouth_basis.measure(model, table).basis))
    train_pairs = pairs(data.train, data.fps, spec, table, shapes)
    x = torch.from_numpy(train_pairs.windows).unsqueeze(2)
    y = torch.from_numpy(train_pairs.targets)
    net = driver.net
    net.feature_mean.copy_(x.mean(dim=(0, 3), keepdim=True)[0][None])
    net.feature_std.copy_(x.std(dim=(0, 3), keepdim=True)[0][None].clamp_min(1e-3))
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    losses = []
    net.train()
    for _ in range(steps):
        idx = torch.randint(len(x), (batch,), generator=generator)
        level = (torch.rand(batch, 1, 1, 1, generator=generator) * 2 - 1) * np.log(10.0)
        loss = torch.nn.functional.mse_loss(net(x[idx] + level), y[idx]) * 1e3
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return driver.eval(), losses


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    if a.std() < 1e-9 or b.std() < 1e-9:
        return 0.0  # a constant mouth follows nothing
    return float(np.corrcoef(a, b)[0, 1])


def _held_out_inputs(data: SpeechData | None, seed: int
                     ) -> tuple[dict[str, torch.Tensor], np.ndarray]:
    """The held-out clips' windows as the three inputs of every lip-sync figure (their audio,
    the same windows shuffled in time, silence) and the target opening per frame."""
    data = data or load_data()
    spec, table, shapes = _targets()
    held = pairs(data.held_out, data.fps, spec, table, shapes)
    x = torch.from_numpy(held.windows).unsqueeze(2)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    return ({"audio": x, "shuffled": x[order],
             "silent": torch.full_like(x, float(np.log(spec.log_floor)))}, held.targets[:, 0])


@torch.no_grad()
def sync_figures(driver: AudioDriver, data: SpeechData | None = None, seed: int = 0
                 ) -> dict[str, float]:
    """Correlation of the predicted mouth opening with the target opening on the held-out clips,
    for their audio, for the same windows shuffled in time, and for silence (plus the largest
    opening predicted for silence, next to the largest target)."""
    inputs, target = _held_out_inputs(data, seed)
    opening, shuffled, silent = (driver.net(x) for x in inputs.values())
    opening = opening[:, 0].numpy()
    return {"audio": _correlation(opening, target),
            "shuffled": _correlation(shuffled[:, 0].numpy(), target),
            "silent": _correlation(silent[:, 0].numpy(), target),
            "silent_opening": float(silent[:, 0].abs().max()),
            "target_opening": float(np.abs(target).max()),
            "audio_opening_std": float(opening.std()),
            "target_opening_std": float(target.std()),
            "frames": float(len(target))}


@torch.no_grad()
def rendered_sync_figures(model: PortraitModel, driver: AudioDriver, photo: Path,
                          data: SpeechData | None = None, seed: int = 0) -> dict[str, float]:
    """The lip-sync figure on what a user sees: `photo` animated by the held-out audio, its
    mouth opening measured by the face mesh on every generated frame and correlated with the
    target opening; likewise for shuffled audio and silence. Also the spread (std) of the
    measured opening per input, and the frames where the mesh found no face."""
    from mpkit.errors import NoFaceError
    from mpkit.landmarks.face import FaceLandmarker
    from mpkit.media.image import read_image
    from mpkit.metrics.landmarks import mouth_shape
    from mpkit.pipeline.animator import Animator
    from mpkit.pipeline.speech import speak

    inputs, target = _held_out_inputs(data, seed)
    animator, landmarker = Animator(model), FaceLandmarker()
    avatar = animator.prepare_source(read_image(photo), name=str(photo))
    component = AudioComponent(driver)
    figures = {"frames": float(len(target)), "target_opening_std": float(target.std())}
    for name, windows in inputs.items():
        opening = []
        for window in windows:
            image = speak(animator, avatar, component, window[:, 0])[0]
            try:
                opening.append(mouth_shape(landmarker.landmarks(image).points)[0])
            except NoFaceError:
                opening.append(np.nan)
        opening = np.asarray(opening)
        found = ~np.isnan(opening)
        figures[name] = _correlation(opening[found], target[found])
        figures[f"{name}_opening_std"] = float(opening[found].std()) if found.any() else 0.0
        figures[f"{name}_no_face"] = float((~found).sum())
    return figures


def held_out_photos(model_id: str) -> list[Path]:
    """The photos of people `model_id` never saw in training (its train.yaml's held-out ones)."""
    from mpkit.train.eval_plan import for_model

    plan, _ = for_model(model_id, None, [], [], holdout=0.2, frames=2)
    return [photo.path for photo in plan.photos]
