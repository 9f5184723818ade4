"""The source stage a phone runs too: push-pull inpainting and the multiview pose bank, against
the golden fixtures in testdata/source_stage/ that the Kotlin core's tests reproduce.

Regenerate the fixtures (after a deliberate change to either algorithm) with
`.venv/bin/python python_tools/tests/test_source_stage.py`; the drift test fails until then.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from mpkit.errors import MpkitError
from mpkit.pipeline import inpaint, pose_bank

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "testdata" / "source_stage"
# (case, photo, size (width, height)): real photos, their real crop and segmenter foreground,
# scaled down to keep the fixtures small; the odd, non-square size exercises the pyramid borders.
INPAINT_CASES = [("obama", "obama.jpg", (256, 256)), ("elder1", "elder1.jpg", (75, 101))]
BANK_MODEL = "mp-tiny"


def _png(path: Path, array: np.ndarray) -> None:
    Image.fromarray(array).save(path, optimize=True)


def _read(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def write_fixtures(out: Path) -> None:
    """Every fixture from the real photos and the shipped mp-tiny, as the current code makes it."""
    from mpkit.media.assets import asset_path
    from mpkit.media.image import read_image
    from mpkit.models import zoo
    from mpkit.pipeline.animator import Animator

    out.mkdir(parents=True, exist_ok=True)
    animator = Animator(zoo.build(BANK_MODEL, zoo.default_checkpoint(BANK_MODEL)))
    for case, photo, size in INPAINT_CASES:
        avatar = animator.prepare_source(read_image(asset_path(photo)), name=photo)
        foreground = animator.segmenter.foreground(avatar.image)
        image = cv2.resize(avatar.image, size, interpolation=cv2.INTER_AREA)
        quantized = inpaint.to_uint8(cv2.resize(foreground, size, interpolation=cv2.INTER_AREA)
                                     * np.float32(255))
        _png(out / f"{case}_image.png", image)
        _png(out / f"{case}_foreground.png", quantized)
        fg = quantized.astype(np.float32) / np.float32(255)
        _png(out / f"{case}_mask.png", inpaint.background_mask(fg).astype(np.uint8) * 255)
        _png(out / f"{case}_background.png", inpaint.pseudo_background(image, fg))
    avatar = animator.prepare_source(read_image(asset_path("obama.jpg")), name="obama.jpg")
    bank = animator.pose_bank
    case = {"model": BANK_MODEL, "bank": bank.to_json(), "kp_source": avatar.kp[0].tolist(),
            "kp_views": bank.apply(avatar.kp).tolist()}
    (out / "pose_bank.json").write_text(json.dumps(case) + "\n")
    (out / "resample.json").write_text(json.dumps(_resample_case(avatar)) + "\n")


def _resample_case(avatar) -> dict:
    """The source stage's own resampling on a 32² patch of the real crop (source_small's
    antialiased bilinear, the foreground mask's area filter) and the facial-keypoint mask."""
    import torch

    from mpkit.landmarks.facial import facial_mask
    from mpkit.models.dense_motion import downsample

    patch = np.ascontiguousarray(avatar.image[96:128, 112:144])
    planes = torch.from_numpy(patch).permute(2, 0, 1)[None].float() / 255.0
    area = torch.nn.functional.interpolate(planes, size=(8, 8), mode="area")
    points = np.array([[-0.5, -0.25], [0.1, 0.3], [0.62, -0.8]], np.float32)
    return {"patch": patch.reshape(-1).tolist(), "side": 32, "size": 8,
            "antialiased": downsample(planes, 8).reshape(-1).tolist(),
            "area": area.reshape(-1).tolist(), "points": points.reshape(-1).tolist(),
            "mask_size": 16, "mask": facial_mask(points, 16).reshape(-1).tolist()}


@pytest.fixture(scope="module")
def written(tmp_path_factory, asset):
    out = tmp_path_factory.mktemp("source_stage")
    write_fixtures(out)
    return out


def _numbers(value) -> list[float]:
    if isinstance(value, dict):
        return [x for k in sorted(value) for x in _numbers(value[k])]
    if isinstance(value, list):
        return [x for v in value for x in _numbers(v)]
    return [value] if isinstance(value, float) else []


def _floats_as(value, fill):
    if isinstance(value, dict):
        return {k: _floats_as(v, fill) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats_as(v, fill) for v in value]
    return fill if isinstance(value, float) else value


def test_fixtures_are_what_the_current_code_writes(written):
    """Within what another CPU's TFLite segmenter and torch kernels may change (a level on a
    few pixels, float rounding); the algorithms themselves are checked exactly below."""
    names = sorted(p.name for p in FIXTURES.iterdir() if p.suffix in (".png", ".json"))
    assert names == sorted(p.name for p in written.iterdir())
    for name in names:
        if name.endswith(".png"):
            diff = np.abs(_read(FIXTURES / name).astype(int) - _read(written / name))
            assert (diff > 0).mean() < 0.005, f"{name}: {(diff > 0).mean():.2%} pixels differ"
        else:
            want, got = (json.loads((d / name).read_text()) for d in (FIXTURES, written))
            assert _floats_as(want, 0.0) == _floats_as(got, 0.0), name  # all but the floats
            np.testing.assert_allclose(_numbers(got), _numbers(want), atol=1e-5, err_msg=name)
    total = sum(p.stat().st_size for p in FIXTURES.iterdir())
    assert total < 300_000, f"fixtures are {total} bytes"


@pytest.mark.parametrize("case", [c[0] for c in INPAINT_CASES])
def test_push_pull_reproduces_the_fixture(case):
    image = _read(FIXTURES / f"{case}_image.png")
    fg = _read(FIXTURES / f"{case}_foreground.png").astype(np.float32) / np.float32(255)
    mask = inpaint.background_mask(fg)
    assert np.array_equal(mask, _read(FIXTURES / f"{case}_mask.png") > 0)
    assert 0.2 < mask.mean() < 0.9  # a real foreground, neither empty nor everything
    out = inpaint.pseudo_background(image, fg)
    assert np.array_equal(out, _read(FIXTURES / f"{case}_background.png"))
    assert np.array_equal(out[~mask], image[~mask])  # known pixels are kept exactly


def test_dilate_is_a_square_max_filter():
    """The same as OpenCV's dilation by a k×k square, on a real mask and on random ones."""
    real = _read(FIXTURES / "obama_mask.png") > 0
    rng = np.random.default_rng(0)
    masks = [real] + [rng.random((rng.integers(3, 40), rng.integers(3, 40))) > 0.93
                      for _ in range(30)]
    for m in masks:
        for side in (1, 3, 7):
            want = cv2.dilate(m.astype(np.uint8), np.ones((side, side), np.uint8)) > 0
            assert np.array_equal(inpaint.dilate(m, side), want)


def test_push_pull_fills_smoothly_and_handles_the_extremes():
    image = np.zeros((9, 13, 3), np.uint8)
    image[:, :6] = 200  # left half bright, right half dark
    mask = np.zeros((9, 13), bool)
    mask[3:6, 4:9] = True
    out = inpaint.PushPullInpainter().inpaint(image, mask)
    row = out[4, 4:9, 0].astype(int)
    assert np.all(np.diff(row) <= 0) and row[0] > row[-1]  # bright side to dark side
    assert np.array_equal(out[~mask], image[~mask])
    everything = inpaint.PushPullInpainter().inpaint(image, np.ones((9, 13), bool))
    assert (everything == inpaint.EMPTY_FILL).all()


def test_the_default_inpainting_needs_no_opencv():
    code = ("import sys, numpy as np; from mpkit.pipeline.inpaint import pseudo_background; "
            "pseudo_background(np.zeros((8, 8, 3), np.uint8), np.eye(8, dtype=np.float32)); "
            "assert 'cv2' not in sys.modules, 'cv2 imported'")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_pose_bank_views_reproduce_the_fixture():
    case = json.loads((FIXTURES / "pose_bank.json").read_text())
    bank = pose_bank.PoseBank(np.asarray(case["bank"]["affines"], np.float32))
    views = bank.apply(torch.tensor([case["kp_source"]], dtype=torch.float32))
    assert torch.equal(views, torch.tensor(case["kp_views"], dtype=torch.float32))
    assert torch.equal(views[0], torch.tensor(case["kp_source"]))  # view 0: the source's pose


def test_every_model_ships_the_measured_bank(tmp_path, monkeypatch, asset):
    """Each models/<id>/pose_bank.json is what measure_for_model writes from its clips."""
    from mpkit.models import zoo
    from mpkit.models.config import models_dir

    shipped = {m: json.loads((models_dir() / m / pose_bank.BANK_FILE).read_text())
               for m in zoo.model_ids()}
    clips = shipped[BANK_MODEL]["measured_from"]["clips"]
    (tmp_path / BANK_MODEL).mkdir()
    shutil.copy(models_dir() / BANK_MODEL / "model.yaml", tmp_path / BANK_MODEL)
    monkeypatch.setenv("MPKIT_MODELS_DIR", str(tmp_path))
    measured = pose_bank.measure_for_model(BANK_MODEL, [tuple(c) for c in clips]).to_json()
    for model_id, data in shipped.items():
        assert data == measured, f"{model_id}: shipped pose bank differs from the measured one"
    assert zoo.pose_bank(BANK_MODEL).views == 4


def test_a_model_without_a_bank_is_a_clear_error(tmp_path, monkeypatch):
    from mpkit.models import zoo
    from mpkit.models.config import models_dir
    from mpkit.pipeline.animator import Animator

    (tmp_path / BANK_MODEL).mkdir()
    shutil.copy(models_dir() / BANK_MODEL / "model.yaml", tmp_path / BANK_MODEL)
    model = zoo.build(BANK_MODEL)
    monkeypatch.setenv("MPKIT_MODELS_DIR", str(tmp_path))
    with pytest.raises(MpkitError, match=r"no pose bank .*measure_for_model\('mp-tiny'"):
        Animator(model)
    (tmp_path / BANK_MODEL / pose_bank.BANK_FILE).write_text('{"format": "other"}')
    with pytest.raises(MpkitError, match="unreadable pose bank"):
        zoo.pose_bank(BANK_MODEL)


def test_the_source_stage_needs_only_the_photo_and_live_driving_no_future(asset):
    """The multiview features come from the photo and the bank; outputs for the first driving
    frames are the same whether or not later frames of the clip exist."""
    from mpkit.media.video import read_frames
    from mpkit.models import zoo
    from mpkit.pipeline.animator import Animator

    animator = Animator(zoo.build(BANK_MODEL, zoo.default_checkpoint(BANK_MODEL)))
    frames = list(read_frames(asset("carphone.mp4"), limit=40))
    photo = cv2.cvtColor(cv2.imread(str(asset("obama.jpg"))), cv2.COLOR_BGR2RGB)

    def animate(driving):
        avatar = animator.prepare_source(photo, name="obama")
        drive = animator.prepare_driving(avatar, frames[0], name="carphone")
        return [out for _, out in animator.run(avatar, drive, driving, name="carphone")]

    live, whole = animate(frames[1:3]), animate(frames[1:])
    assert len(whole) == 39
    assert all(np.array_equal(a, b) for a, b in zip(live, whole[:2]))


def test_training_warps_the_source_to_the_bank_poses(asset, tmp_path):
    """The multiview in training sees the source moved by the bank, as inference does."""
    from mpkit.models import zoo
    from mpkit.train import loop
    from mpkit.train.config import TrainConfig

    cfg = TrainConfig(model=BANK_MODEL, steps=1, batch_size=2, lr=5e-4, videos=["carphone.mp4"])
    trainer = loop.Trainer(cfg, tmp_path)
    calls = []
    trainer.model.dense_motion.register_forward_hook(lambda m, args, out: calls.append(args))
    trainer.train_step()
    (_, _, kp_source, kp_driving), = calls  # forward_train is the frame's; forward the views'
    views = zoo.pose_bank(BANK_MODEL).views
    assert kp_driving.shape == (2 * views, 50, 2)
    assert torch.equal(kp_driving, zoo.pose_bank(BANK_MODEL).apply(kp_source[::views]))


if __name__ == "__main__":
    write_fixtures(FIXTURES)
