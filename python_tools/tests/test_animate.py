"""`mpkit animate` end to end on the real photo and the real talking-head video."""

import numpy as np
import pytest

from mpkit.media.video import read_frames, video_info
from mpkit.models import zoo
from mpkit.models.checkpoint import save_weights


@pytest.fixture(scope="module")
def clip(asset, tmp_path_factory):
    """The first 24 frames of carphone (keeps the suite fast; frame count is still checked)."""
    from mpkit.media.video import write_video

    path = tmp_path_factory.mktemp("clip") / "carphone24.mp4"
    write_video(path, read_frames(asset("carphone.mp4"), limit=24), 29.97)
    return path


def test_animate_writes_every_driving_frame(run_cli, asset, clip, tmp_path, monkeypatch):
    import shutil

    from mpkit.models.config import models_dir

    out = tmp_path / "out.mp4"
    # A model folder without weights: the output must say it is untrained.
    shutil.copytree(models_dir() / "mp-tiny-nk", tmp_path / "models/mp-tiny-nk",
                    ignore=shutil.ignore_patterns("weights.safetensors"))
    monkeypatch.setenv("MPKIT_MODELS_DIR", str(tmp_path / "models"))
    code, stdout, stderr = run_cli("animate", "mp-tiny-nk", "--source", asset("obama.jpg"),
                                   "--driving", clip, "-o", out, "--side-by-side")
    assert code == 0, stderr
    info = video_info(out)
    assert info.frames == video_info(clip).frames == 24
    assert (info.width, info.height) == (3 * 256, 256)
    assert "frames/s" in stdout and "UNTRAINED" in stdout and "UNTRAINED" in stderr
    frames = list(read_frames(out))
    source_panel = frames[0][:, :256].astype(float)
    driving_panel = frames[0][:, 256:512].astype(float)
    assert source_panel.std() > 20 and driving_panel.std() > 20  # real pictures, not blanks
    # The driving panel moves with the video.
    assert np.abs(frames[-1][:, 256:512].astype(float) - driving_panel).mean() > 3


def test_trained_checkpoint_has_no_untrained_stamp(run_cli, asset, clip, tmp_path):
    weights = tmp_path / "w.safetensors"
    save_weights(zoo.build("mp-tiny", seed=7), weights)
    code, stdout, stderr = run_cli("animate", "mp-tiny", "--source", asset("astronaut.png"),
                                   "--driving", clip, "-o", tmp_path / "o.mp4",
                                   "--checkpoint", weights)
    assert code == 0, stderr
    assert "UNTRAINED" not in stdout + stderr


def _fails_cleanly(run_cli, tmp_path, args, message):
    out = tmp_path / "never.mp4"
    code, _, err = run_cli("animate", *args, "-o", out)
    assert code == 1, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], err
    assert not any(p.suffix == ".mp4" for p in tmp_path.iterdir())


def test_bad_inputs(run_cli, asset, clip, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    notes = bad / "notes.jpg"
    notes.write_text("not an image")
    truncated = bad / "cut.mp4"
    truncated.write_bytes(asset("carphone.mp4").read_bytes()[:200_000])
    flag = bad / "flag.png"
    from mpkit.media.image import read_image, write_image
    write_image(flag, read_image(asset("obama.jpg"))[:300, :250])
    wrong = bad / "wrong.safetensors"
    save_weights(zoo.build("mp-tiny"), wrong)
    good = ["--source", asset("obama.jpg"), "--driving", clip]
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    cases = [
        (["mp-tiny", "--source", bad / "missing.jpg", "--driving", clip], "missing.jpg: no such file"),
        (["mp-tiny", "--source", notes, "--driving", clip], "notes.jpg: not a readable image"),
        (["mp-tiny", "--source", flag, "--driving", clip], "flag.png: no face found"),
        (["mp-tiny", "--source", asset("obama.jpg"), "--driving", truncated], "cut.mp4: cannot decode"),
        (["mp-4g", *good, "--checkpoint", wrong], "checkpoint is for model mp-tiny, not mp-4g"),
        (["mp-nope", *good], "unknown model 'mp-nope'; known: mp-16g"),
    ]
    for args, message in cases:
        _fails_cleanly(run_cli, out_dir, args, message)


def test_several_faces_animates_the_largest_and_says_so(run_cli, asset, clip, tmp_path):
    code, _, err = run_cli("animate", "mp-tiny", "--source", asset("group.jpg"), "--driving", clip,
                           "-o", tmp_path / "g.mp4")
    assert code == 0 and "faces in" in err and "animated the largest" in err
