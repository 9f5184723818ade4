"""`mpkit eval`: real frames, baselines in the same run, clear errors."""

import numpy as np
import pytest
import yaml

from mpkit.errors import MediaError
from mpkit.media.image import read_image
from mpkit.media.video import read_frames, video_info, write_video
from mpkit.metrics.identity import SAME_PERSON
from mpkit.metrics.image import psnr, ssim
from mpkit.metrics.landmarks import expression_distance, face_region, landmark_distance
from mpkit.models import zoo
from mpkit.models.config import models_dir
from mpkit.train.evaluate import IDENTITY, self_reenactment


@pytest.fixture(scope="module")
def short_clip(asset, tmp_path_factory):
    path = tmp_path_factory.mktemp("eval") / "carphone20.mp4"
    write_video(path, read_frames(asset("carphone.mp4"), limit=20), 29.97)
    return path


def test_identity_copy_baseline_is_measured_against_real_frames(short_clip):
    real, runs = self_reenactment({"mp-tiny": zoo.build("mp-tiny")}, short_clip, holdout=0.25)
    assert len(real) == 5 and set(runs) == {"mp-tiny", IDENTITY}
    identity = runs[IDENTITY]
    # The identity copy is the first frame's crop; its PSNR against the real frames is finite
    # and recomputes exactly from the frames.
    assert identity.per_frame["psnr_db"][0] == pytest.approx(psnr(identity.frames[0], real[0]))
    assert 10 < identity.summary()["psnr_db"] < 40
    assert identity.summary()["face_found"] == 1.0
    # Inside the real face the copy is further off than over the whole (mostly static) frame.
    assert identity.summary()["face_psnr_db"] < identity.summary()["psnr_db"]
    # An untrained model outputs flat grey: far below the identity copy.
    assert runs["mp-tiny"].summary()["psnr_db"] < identity.summary()["psnr_db"]


def test_eval_cli_writes_numerics_plots_and_video(run_cli, asset, short_clip, tmp_path,
                                                  monkeypatch):
    import shutil

    models = tmp_path / "models"
    for model_id in ("mp-tiny", "mp-tiny-nk"):
        shutil.copytree(models_dir() / model_id, models / model_id)
    (models / "mp-tiny/numerics.yaml").unlink()
    monkeypatch.setenv("MPKIT_MODELS_DIR", str(models))
    code, out, err = run_cli("eval", "mp-tiny", "--video", short_clip, "--photo",
                             asset("astronaut.png"), "--ablation", "mp-tiny-nk=",
                             "--holdout", "0.25", "-o", tmp_path, "--record")
    assert code == 0, err
    # --record: numerics, per-frame plots and the still go to the model's folder and its card
    recorded = {"numerics.yaml", "self-carphone20.png", "cross-astronaut.png", "eval_still.jpg"}
    assert recorded <= {p.name for p in (models / "mp-tiny").iterdir()}
    assert not list((models / "mp-tiny").glob("*.mp4"))
    assert run_cli("models", "card", "mp-tiny")[0] == 0
    card = (models / "mp-tiny/card.md").read_text()
    assert "![self-carphone20](self-carphone20.png)" in card
    assert "carphone20.mp4 (5 held-out" in card
    numerics = yaml.safe_load((tmp_path / "numerics.yaml").read_text())
    methods = numerics["self_reenactment"]["carphone20.mp4"]
    assert set(methods) == {"frames", "mp-tiny", "mp-tiny-nk", IDENTITY}
    cross = numerics["cross_reenactment"]["astronaut <- carphone20.mp4"]
    assert "expression_distance_px" in cross[IDENTITY]
    # dlib identity: the copy is the source itself; the trained model keeps the person; the
    # untrained ablation's grey is nobody (no face to embed)
    assert cross[IDENTITY]["identity_distance"] == 0.0
    assert "same person" in numerics["identity_distance"]
    assert 0 < methods["mp-tiny"]["identity_distance"] < SAME_PERSON
    assert methods["mp-tiny-nk"]["face_found"] == 0.0
    assert np.isnan(methods["mp-tiny-nk"]["identity_distance"])
    assert video_info(tmp_path / "self-carphone20.mp4").frames == 5
    assert video_info(tmp_path / "self-carphone20.mp4").width == 4 * 256
    assert (tmp_path / "self-carphone20.png").stat().st_size > 10_000
    still = read_image(tmp_path / "eval_still.jpg")  # 3 self + 3 cross rows of 4 panels
    assert still.shape == (6 * 256, 4 * 256, 3)
    assert "untrained" in err


def test_identity_distance_tells_people_apart(asset):
    from mpkit.landmarks.face import FaceLandmarker
    from mpkit.metrics.identity import IdentityEmbedder, identity_distance

    embedder, landmarker = IdentityEmbedder(), FaceLandmarker()
    faces = {}
    for name in ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "astronaut.png"):
        image = read_image(asset(name))
        faces[name] = embedder.embed(image, landmarker.landmarks(image).points)
    for other in ("obama2.jpg", "obama3.jpg"):
        assert identity_distance(faces["obama.jpg"], faces[other]) < SAME_PERSON
    for other in ("biden.jpg", "astronaut.png"):
        assert identity_distance(faces["obama.jpg"], faces[other]) > SAME_PERSON


def test_identity_without_dlib_names_the_extra(monkeypatch, run_cli, asset, short_clip, tmp_path):
    import sys

    from mpkit.errors import DependencyError
    from mpkit.metrics.identity import IdentityEmbedder

    monkeypatch.setitem(sys.modules, "dlib", None)  # as if dlib-bin were not installed
    with pytest.raises(DependencyError, match=r"mpkit\[identity\]"):
        IdentityEmbedder()
    code, _, err = run_cli("eval", "mp-tiny", "--video", short_clip, "--holdout", "0.25",
                           "-o", tmp_path)
    assert code == 0 and "identity distance not measured" in err
    numerics = yaml.safe_load((tmp_path / "numerics.yaml").read_text())
    assert numerics["identity_distance"].startswith("not measured")
    assert "identity_distance" not in numerics["self_reenactment"]["carphone20.mp4"][IDENTITY]


def test_video_shorter_than_two_frames(asset, tmp_path):
    one = tmp_path / "one.mp4"
    write_video(one, read_frames(asset("carphone.mp4"), limit=1), 25)
    with pytest.raises(MediaError, match="one.mp4: 1 frame.*at least 2"):
        self_reenactment({"mp-tiny": zoo.build("mp-tiny")}, one, 0.2)


def test_landmark_metrics():
    rng = np.random.default_rng(0)
    a = rng.random((468, 2)) * 200
    angle = 0.2
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    b = a @ rot.T * 1.1 + 7
    assert landmark_distance(a, b) > 5
    assert expression_distance(a, b) < 1e-6  # pose and scale removed
    c = b.copy()
    c[:40] += 3.0
    assert expression_distance(a, c) > 0.1


def test_ssim_of_identical_and_different_images(asset):
    frames = list(read_frames(asset("carphone.mp4"), limit=30))
    assert ssim(frames[0], frames[0]) == pytest.approx(1.0)
    assert ssim(frames[0], frames[29]) < 0.9


def test_face_psnr_counts_only_the_face(asset):
    import cv2

    from mpkit.landmarks.face import FaceLandmarker

    frame = read_image(asset("obama.jpg"))
    face = face_region(FaceLandmarker().landmarks(frame).points, frame.shape[:2])
    assert 0.05 < face.mean() < 0.6  # a face, not the whole photo or a speck
    blurred = np.where(face[..., None], frame, cv2.GaussianBlur(frame, (31, 31), 0))
    assert psnr(blurred, frame, face) == 100.0  # the face is untouched
    assert psnr(blurred, frame) < 40
    assert psnr(frame, blurred, ~face) < psnr(blurred, frame)  # the error is all outside
