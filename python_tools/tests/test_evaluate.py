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
from mpkit.train import eval_plan
from mpkit.train.evaluate import IDENTITY, self_reenactment


@pytest.fixture(scope="module")
def short_clip(asset, tmp_path_factory):
    path = tmp_path_factory.mktemp("eval") / "carphone20.mp4"
    write_video(path, read_frames(asset("carphone.mp4"), limit=20), 29.97)
    return path


def test_identity_copy_baseline_is_measured_against_real_frames(short_clip):
    clip = eval_plan.from_files([short_clip], [], holdout=0.25).clips[0].load()
    assert clip.numbers == [15, 16, 17, 18, 19]
    real, runs = self_reenactment({"mp-tiny": zoo.build("mp-tiny")}, clip)
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
    shutil.copy(models_dir() / "eval_targets.yaml", models)
    (models / "mp-tiny/numerics.yaml").unlink()
    monkeypatch.setenv("MPKIT_MODELS_DIR", str(models))
    code, out, err = run_cli("eval", "mp-tiny", "--video", short_clip, "--photo",
                             asset("astronaut.png"), "--ablation", "mp-tiny-nk=",
                             "--holdout", "0.25", "-o", tmp_path, "--record")
    assert code == 0, err
    # --record: numerics, per-frame plots and the still go to the model's folder and its card
    recorded = {"numerics.yaml", "self-carphone20-0-20.png", "cross-astronaut-carphone20-0-20.png",
                "eval_still.jpg"}
    assert recorded <= {p.name for p in (models / "mp-tiny").iterdir()}
    assert not list((models / "mp-tiny").glob("*.mp4"))
    assert run_cli("models", "card", "mp-tiny")[0] == 0
    card = (models / "mp-tiny/card.md").read_text()
    assert "![self-carphone20-0-20](self-carphone20-0-20.png)" in card
    assert "| carphone20 [0, 20) | 5 | mp-tiny |" in card
    numerics = yaml.safe_load((tmp_path / "numerics.yaml").read_text())
    own, cross_section = numerics["sections"]
    assert own["people"] == cross_section["people"] == eval_plan.UNKNOWN
    methods = own["cases"]["carphone20 [0, 20)"]["methods"]
    assert set(methods) == {"mp-tiny", "mp-tiny-nk", IDENTITY}
    # cases given on the command line are not held out by any declaration: no target is checked
    assert numerics["targets"] == [] and numerics["data"] == "command line"
    cross = cross_section["cases"]["astronaut <- carphone20 [0, 20)"]["methods"]
    assert "expression_distance_px" in cross[IDENTITY]
    # dlib identity: the copy is the source itself; the trained model keeps the person; the
    # untrained ablation's grey is nobody (no face to embed)
    assert cross[IDENTITY]["identity_distance"] == 0.0
    assert "same person" in numerics["identity_distance"]
    assert 0 < methods["mp-tiny"]["identity_distance"] < SAME_PERSON
    assert methods["mp-tiny-nk"]["face_found"] == 0.0
    assert np.isnan(methods["mp-tiny-nk"]["identity_distance"])
    assert video_info(tmp_path / "self-carphone20-0-20.mp4").frames == 5
    assert video_info(tmp_path / "self-carphone20-0-20.mp4").width == 4 * 256
    assert (tmp_path / "self-carphone20-0-20.png").stat().st_size > 10_000
    still = read_image(tmp_path / "eval_still.jpg")  # a self and a cross row of 4 panels
    assert still.shape == (2 * 256, 4 * 256, 3)
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
    case = numerics["sections"][0]["cases"]["carphone20 [0, 20)"]
    assert "identity_distance" not in case["methods"][IDENTITY]


def test_video_shorter_than_two_frames(asset, tmp_path):
    one = tmp_path / "one.mp4"
    write_video(one, read_frames(asset("carphone.mp4"), limit=1), 25)
    with pytest.raises(MediaError, match="one.mp4: 1 frame.*at least 2"):
        eval_plan.from_files([one], [], 0.2)


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


def test_the_declared_plan_drives_only_with_held_out_frames():
    from mpkit.configfile import load_yaml
    from mpkit.train.config import DataSpec

    spec = load_yaml(DataSpec, models_dir() / "clips.yaml")
    plan = eval_plan.from_data(spec, frames=48)
    by_name = {c.name: c for c in spec.clips}
    assert {c.name for c in plan.clips} == {"franck", "pexels", "carphone"}
    for case in plan.clips:
        clip = by_name[case.name]
        used = [case.anchor, *case.driven]
        assert not any(a <= i < b for i in used for a, b in clip.train), case.name
        if clip.name not in spec.held_out.clips:
            (a, b), = clip.held_out
            assert all(a <= i < b for i in used) and case.anchor == a
        assert len(case.driven) == 48 and case.driven == sorted(set(case.driven))
        # runs of 8 consecutive frames, spread to the end of the range
        assert sum(not c for c in eval_plan.Clip("", None, [], case.driven).consecutive) == 6
    people = {c.name: c.people for c in plan.clips}
    assert people == {"franck": eval_plan.SEEN, "pexels": eval_plan.SEEN,
                      "carphone": eval_plan.UNSEEN}
    assert {(p.name, p.people) for p in plan.photos} == {("astronaut", eval_plan.UNSEEN),
                                                         ("elder2", eval_plan.UNSEEN)}
    assert plan.drivers == plan.clips


def test_eval_on_declared_data_checks_the_targets_on_held_out_people(run_cli, asset, short_clip,
                                                                       tmp_path):
    data = tmp_path / "clips.yaml"
    data.write_text(yaml.safe_dump({
        "clips": [{"name": "carphone20", "asset": str(short_clip), "identity": "man"}],
        "photos": [{"asset": "astronaut.png", "identity": "eileen"}],
        "held_out": {"clips": ["carphone20"], "photos": ["astronaut.png"],
                     "identities": ["man", "eileen"]}}))
    code, out, err = run_cli("eval", "mp-tiny", "--data", data, "--frames", "6", "-o",
                             tmp_path / "out")
    assert code == 0, err
    numerics = yaml.safe_load((tmp_path / "out/numerics.yaml").read_text())
    own, cross = numerics["sections"]
    assert (own["kind"], own["people"]) == ("self_reenactment", eval_plan.UNSEEN)
    assert cross["kind"] == "cross_reenactment"
    case = own["cases"]["carphone20 [0, 20)"]
    assert case["frames"] == 6
    targets = {(t["case"], t["figure"]): t for t in numerics["targets"]}
    psnr_row = targets[("carphone20 [0, 20)", "psnr_db")]
    copy = case["methods"][IDENTITY]["psnr_db"]
    assert psnr_row["met"] == (case["methods"]["mp-tiny"]["psnr_db"] >= copy + 2)
    assert f"identity copy {copy:.4g} + 2" in psnr_row["target"]
    assert ("astronaut <- carphone20 [0, 20)", "identity_distance") in targets
    assert f"targets (models/eval_targets.yaml): {sum(t['met'] for t in targets.values())} of " \
        f"{len(targets)} met" in out


@pytest.mark.parametrize("args, message", [
    (["mp-tiny", "--data", "models/clips.yaml", "--video", "x.mp4"], "not both"),
    (["mp-tiny", "--photo", "x.jpg"], "--photo needs a --video"),
    (["mp-16g"], "mp-16g has no train.yaml"),
    (["mp-tiny", "--data", "nowhere.yaml"], "no such file"),
])
def test_eval_refuses_an_unclear_plan(run_cli, args, message):
    code, _, err = run_cli("eval", *args)
    assert code == 2 and message in err


def test_mouth_error_sees_an_open_mouth(asset):
    from mpkit.landmarks.face import FaceLandmarker
    from mpkit.metrics.landmarks import mouth_error, mouth_shape

    # carphone's man talks: across 60 frames his inner-lip gap changes by more than 5 % of
    # his eye-corner distance, and the error between two frames is what the shapes say
    landmarker = FaceLandmarker()
    meshes = [landmarker.landmarks(f).points for f in read_frames(asset("carphone.mp4"),
                                                                  limit=60)]
    shapes = np.array([mouth_shape(m) for m in meshes])
    assert shapes[:, 0].max() - shapes[:, 0].min() > 0.05
    assert 0.3 < shapes[:, 1].mean() < 1.0  # the mouth is narrower than the eyes' span
    i, j = int(shapes[:, 0].argmin()), int(shapes[:, 0].argmax())
    assert mouth_error(meshes[i], meshes[j]) == pytest.approx(
        np.abs(shapes[i] - shapes[j]).sum() * 100)
    assert mouth_error(meshes[i], meshes[i]) == 0.0


def test_a_case_the_checkpoint_trained_on_is_flagged_from_its_own_record(run_cli, short_clip,
                                                                         tmp_path):
    import json

    from mpkit.models.checkpoint import read_metadata

    # The shipped mp-tiny's record says it trained on carphone.mp4's first 80 %: a plan that
    # declares carphone held out is not held out for it.
    config = json.loads(read_metadata(zoo.default_checkpoint("mp-tiny"))["train_config"])
    videos, _ = eval_plan.trained_on(config)
    trained_on_carphone = any(p.name == "carphone.mp4" for p in videos)
    data = tmp_path / "clips.yaml"
    data.write_text(yaml.safe_dump({
        "clips": [{"name": "carphone", "asset": "carphone.mp4", "identity": "man"}],
        "held_out": {"clips": ["carphone"], "identities": ["man"]}}))
    code, out, err = run_cli("eval", "mp-tiny", "--data", data, "--frames", "4", "-o",
                             tmp_path / "out")
    assert code == 0, err
    case = yaml.safe_load((tmp_path / "out/numerics.yaml").read_text())["sections"][0]["cases"][
        "carphone [0, 120)"]
    if trained_on_carphone:
        assert case["trained_on_by"] == ["mp-tiny"] and "NOT held out for mp-tiny" in out
        assert "targets" not in out  # nothing held out for it is left to check
    else:
        assert "trained_on_by" not in case
