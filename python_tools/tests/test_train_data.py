"""Training data declared as data, on the real clips: disjoint splits (checked on the sampler),
the landmark cache, and clear errors for a bad clips YAML."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from mpkit.errors import MpkitError
from mpkit.media.video import read_frames, write_video
from mpkit.models.config import models_dir
from mpkit.train import landmark_cache
from mpkit.train.config import DataSpec, TrainConfig, load_train_config
from mpkit.train.data import Sampler, load_training_data

SMALL = {  # the real clips with short ranges, so the test prepares few frames
    "clips": [
        {"name": "franck", "asset": "franck.webm", "identity": "franck",
         "train": [[100, 130], [200, 220]], "held_out": [[130, 200]]},
        {"name": "pexels", "asset": "WolfgangLanger_Pexels.mp4", "identity": "pexels-woman",
         "train": [[300, 320]], "held_out": [[320, 472]]},
        {"name": "carphone", "asset": "carphone.mp4", "identity": "carphone-man"},
    ],
    "photos": [{"asset": "obama.jpg", "identity": "obama"},
               {"asset": "astronaut.png", "identity": "eileen-collins"}],
    "held_out": {"clips": ["carphone"], "photos": ["astronaut.png"],
                 "identities": ["carphone-man", "eileen-collins"]},
}


def config(data: dict | DataSpec) -> TrainConfig:
    return TrainConfig(model="mp-tiny", steps=1, batch_size=2, lr=1e-3, data=data)


def write_clips(tmp_path: Path, data: dict) -> Path:
    clips = tmp_path / "clips.yaml"
    clips.write_text(yaml.safe_dump(data))
    train = tmp_path / "train.yaml"
    train.write_text("model: mp-tiny\nsteps: 1\nbatch_size: 1\nlr: 0.001\ndata: clips.yaml\n")
    return train


def test_sampler_draws_only_training_frames(asset):
    data = load_training_data(config(SMALL), 256, 64)
    assert [c.name for c in data.clips] == ["franck", "pexels"] and len(data.photos) == 1
    sampler = Sampler(data, 2, 0.3, torch.Generator().manual_seed(0))
    drawn: dict[str, set[int]] = {}
    for _ in range(600):
        d = sampler.draw()
        drawn.setdefault(d.clip.name, set()).update(d.clip.frames[np.concatenate(d.rows)].tolist())
    train = {"franck": set(range(100, 130)) | set(range(200, 220)),
             "pexels": set(range(300, 320)), "photos": {0}}  # photo 0: obama.jpg
    assert drawn == train  # every training frame drawn, nothing else (no held-out frame, clip
    # or photo)
    franck = data.clips[0]  # a row's frame number is the video frame it was cut from
    row = int(np.flatnonzero(franck.frames == 215)[0])
    frame = list(read_frames(asset("franck.webm"), limit=216))[215]
    np.testing.assert_array_equal(franck.crop.apply(frame, 256), franck.images[row])
    src, drv = sampler()
    assert src["image"].shape == drv["image"].shape == (2, 3, 256, 256)


def test_reports_count_frames_and_faces(asset):
    reports = {r.name: r for r in load_training_data(config(SMALL), 256, 64).reports}
    assert (reports["franck"].frames, reports["franck"].declared) == (4998, 120)
    assert (reports["carphone"].frames, reports["carphone"].declared) == (120, 120)
    assert reports["carphone"].train == 0 and reports["pexels"].train == 20


@pytest.fixture()
def own_cache(asset, tmp_path, monkeypatch):
    """An empty mpkit cache that still sees the fetched assets."""
    real_assets = asset("carphone.mp4").parent
    monkeypatch.setenv("MPKIT_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache/assets").symlink_to(real_assets)
    return tmp_path / "cache"


def test_landmark_cache_is_reused_and_a_resumed_run_skips_saved_frames(asset, own_cache):
    video = asset("carphone.mp4")
    first = landmark_cache.clip_landmarks(video)
    assert first.computed == 120 and first.found.sum() == 120
    again = landmark_cache.clip_landmarks(video)
    assert again.computed == 0
    np.testing.assert_array_equal(again.points, first.points)

    landmark_cache.cache_path(video).unlink()

    def stop_at_70(i):
        if i == 70:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        landmark_cache.clip_landmarks(video, save_every=50, progress=stop_at_70)
    assert not landmark_cache.cache_path(video).exists()
    resumed = landmark_cache.clip_landmarks(video, save_every=50)
    assert resumed.computed == 70  # frames 0-49 were saved before the interruption
    np.testing.assert_allclose(resumed.points, first.points, atol=1e-4)
    assert [p.name for p in (own_cache / "landmarks").iterdir()] \
        == [landmark_cache.cache_path(video).name]  # the partial file is gone


def test_landmark_cache_is_recomputed_when_the_video_changes(asset, own_cache, tmp_path):
    video = tmp_path / "clip.mp4"
    shutil.copy(asset("carphone.mp4"), video)
    assert landmark_cache.clip_landmarks(video).computed == 120
    shutil.copy(asset("carphone_distorted.mp4"), video)  # same clip, other bytes
    assert landmark_cache.clip_landmarks(video).computed == 120
    assert len(list((own_cache / "landmarks").iterdir())) == 2


def bad(**changes) -> dict:
    data = yaml.safe_load(yaml.safe_dump(SMALL))
    for clip, value in changes.items():
        data["clips"][0][clip] = value
    return data


def test_unknown_asset_names_the_file_key_and_fix(tmp_path):
    with pytest.raises(MpkitError, match=r"clips.yaml: clips.0.asset: .*unknown asset "
                       r"'franck.webmm': name one of `mpkit assets list`"):
        load_train_config(write_clips(tmp_path, bad(asset="franck.webmm")))


def test_overlapping_ranges_are_refused(tmp_path):
    with pytest.raises(MpkitError, match=r"clip franck: train \[100, 140\] and held_out "
                       r"\[130, 200\] overlap: make the ranges disjoint"):
        load_train_config(write_clips(tmp_path, bad(train=[[100, 140]])))


def test_range_past_the_clips_end_says_where_it_ends(asset):
    with pytest.raises(MpkitError, match=r"clip franck: held_out range \[230, 5000\] ends past "
                       r"the video \(franck.webm has 4998 frames\): end it at 4998 or less"):
        load_training_data(config(bad(held_out=[[230, 5000]])), 256, 64)


def test_held_out_identity_in_training_is_refused(tmp_path):
    data = bad(identity="carphone-man")
    with pytest.raises(MpkitError, match="identity carphone-man is held out but clip franck "
                       "trains on it"):
        load_train_config(write_clips(tmp_path, data))


def test_clip_without_a_face_is_a_clear_error(asset, tmp_path):
    sky = np.zeros((144, 176, 3), np.uint8) + np.array([90, 140, 220], np.uint8)
    video = tmp_path / "sky.mp4"
    write_video(video, [np.roll(sky, i, axis=1) for i in range(5)], 25)
    data = {"clips": [{"name": "sky", "asset": str(video), "identity": "nobody",
                       "train": [[0, 5]]}]}
    with pytest.raises(MpkitError, match=r"sky.mp4: 0 usable frames; 5 skipped \(no face\)"):
        load_training_data(config(data), 256, 64)


def test_shipped_recipes_train_on_the_same_declared_data(asset):
    specs = [load_train_config(models_dir() / m / "train.yaml").data
             for m in ("mp-tiny", "mp-tiny-nk")]
    assert specs[0] == specs[1]
    spec = specs[0]
    assert spec.held_out.clips == ["carphone"]
    assert {c.name for c in spec.training_clips()} == {"franck", "pexels"}
    assert {p.asset for p in spec.training_photos()}.isdisjoint({"astronaut.png", "elder2.jpg"})
    for clip, frames in (("franck", 4998), ("pexels", 472), ("carphone", 120)):
        next(c for c in spec.clips if c.name == clip).check_length(frames)
