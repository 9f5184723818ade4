"""Validation compares every output and every frame: a missing one is an error, never a perfect
score. Runs the real eager model on one real face and two driving frames."""

import cv2
import numpy as np
import pytest
import torch

from mpkit.bench import quality
from mpkit.errors import MpkitError
from mpkit.export import validate
from mpkit.export.recipes import CalibrationSet, DrivingFrames
from mpkit.media.image import read_image
from mpkit.models import zoo


def _faces(frames: int) -> CalibrationSet:
    return CalibrationSet(name="tiny", sources=["obama.jpg"],
                          driving=DrivingFrames(video="carphone.mp4", frames=frames))


@pytest.fixture(scope="module")
def model(asset):
    return zoo.build("mp-tiny", zoo.default_checkpoint("mp-tiny"))


@pytest.fixture(scope="module")
def ref(model):
    return validate.reference(model, _faces(2))


def _eager(model, name, keep=slice(None), reshape=None):
    """The eager component as a host runner (numpy in, numpy out), optionally damaged."""
    component = model.components()[name]

    def run(*inputs):
        with torch.no_grad():
            outs = [o.numpy() for o in component(*map(torch.from_numpy, inputs))][keep]
        return [reshape(o) for o in outs] if reshape else outs

    return run


def test_every_output_of_every_call_is_measured(model, ref):
    figures = validate.component_figures(ref, "keypoints", _eager(model, "keypoints"),
                                         ["kp", "kp_neural"])
    cap = validate.SQNR_CAP_DB  # the eager component against itself is bit-identical
    assert figures == {"kp_sqnr_db": cap, "kp_neural_sqnr_db": cap}


def test_a_missing_output_is_an_error_not_a_perfect_score(model, ref):
    with pytest.raises(MpkitError, match="keypoints: outputs of the artifact: 1 to compare "
                                         "with 2 expected"):
        validate.component_figures(ref, "keypoints", _eager(model, "keypoints", slice(1)),
                                   ["kp", "kp_neural"])


def test_an_output_of_another_shape_is_an_error(model, ref):
    with pytest.raises(MpkitError, match=r"output kp has shape \(1, 1, 2\), the eager model's "
                                         r"has \(1, 50, 2\)"):
        validate.component_figures(ref, "keypoints",
                                   _eager(model, "keypoints", reshape=lambda o: o[:, :1]),
                                   ["kp", "kp_neural"])


def test_a_component_never_called_is_an_error(model):
    with pytest.raises(MpkitError, match="synthesis: the eager pipeline never called it"):
        validate.component_figures(validate.Reference(), "synthesis",
                                   _eager(model, "synthesis"), ["image"])


def test_end_to_end_frame_counts_must_match(model, ref):
    with pytest.raises(MpkitError, match="end-to-end frames on the tiny faces: 3 to compare "
                                         "with 2 expected"):
        validate.end_to_end(model, _faces(3), ref, {})


@pytest.fixture(scope="module")
def face(asset):
    return cv2.resize(read_image(asset("obama.jpg")), (256, 256))


def test_quality_counts_frames_without_a_face(face):
    blank = np.zeros_like(face)
    figures = quality.compare([face, blank, face], [face, face, blank])
    assert figures["frames"] == 3 and figures["frames_with_face"] == 1
    assert figures["frames_skipped"] == {"no_face_on_device": 1, "no_face_in_reference": 1}
    assert figures["landmark_distance_px"] == 0.0


def test_quality_refuses_a_count_mismatch_or_nothing(face):
    with pytest.raises(MpkitError, match="captured frames: 1 to compare with 2 expected"):
        quality.compare([face], [face, face])
    with pytest.raises(MpkitError, match="captured frames: nothing to compare"):
        quality.compare([], [])
