"""Audio-driving targets: viseme mouth shapes measured on real talking frames (FGNet's franck),
and real LibriVox phone alignments turned into one mouth-state target per video frame."""

from __future__ import annotations

import pytest
from mpkit.audio import visemes
from mpkit.errors import MediaError, MpkitError
from mpkit.models.config import models_dir

FPS = 25


@pytest.fixture(scope="module")
def table():
    return visemes.load_table()


@pytest.fixture(scope="module")
def shapes(table, asset):
    return visemes.measure_shapes(table, visemes.clip_mouth_states(table))


def test_shapes_are_measured_on_every_training_frame_of_the_clip(shapes):
    assert shapes.frames == 3950  # franck's training range [0, 3950), a face on every frame
    # a real talking mouth: the open vowels' gap is many times the resting one, and a spread
    # vowel's mouth is wider than a rounded one's
    assert shapes.visemes["open"][0] > 0.05 > 5 * shapes.rest[0]
    assert shapes.visemes["close_front"][1] - shapes.visemes["close_rounded"][1] > 0.08


def test_targets_follow_the_phones_of_a_real_alignment(table, shapes, asset):
    # "he was not an ill disposed young man": AA of "not" at 0.61-0.86 s, P of "disposed" at
    # 1.67-1.75 s, silence before 0.21 s and after the last word
    phones = visemes.read_alignment(asset("librivox_0880.phone.json"))
    assert [p.phone for p in phones[:3]] == ["SIL", "HH", "IY"]
    frames = 90  # 3.6 s: past the alignment's 2.99 s end
    y = visemes.frame_targets(table, shapes, phones, FPS, frames)
    assert y.shape == (frames, 2)
    aa, p = y[round(0.735 * FPS), 0], y[round(1.71 * FPS), 0]
    assert aa > 0.06 and aa > 4 * p
    assert abs(y[0, 0]) < 1e-3 and abs(y[-1]).max() < 1e-3


def test_an_unknown_phone_is_named_with_the_fix(table, shapes):
    phones = [visemes.Phone(0.0, 0.2, "QQ")]
    with pytest.raises(MpkitError, match=r"phone 'QQ' is in no viseme.*models/visemes.yaml"):
        visemes.frame_targets(table, shapes, phones, FPS, 5, where="x.phone.json")


def test_a_file_that_is_not_an_alignment_is_named(asset, tmp_path):
    with pytest.raises(MediaError, match=r"librivox_0880.wav: not a pocketsphinx phone alignment"):
        visemes.read_alignment(asset("librivox_0880.wav"))
    shuffled = tmp_path / "shuffled.phone.json"
    shuffled.write_text('{"w": [{"w": [{"b": 1.0, "d": 0.1, "t": "AA"}, '
                        '{"b": 0.5, "d": 0.1, "t": "P"}]}]}')
    with pytest.raises(MediaError, match="out of order"):
        visemes.read_alignment(shuffled)


def test_a_phone_in_two_visemes_is_refused(tmp_path):
    text = (models_dir() / "visemes.yaml").read_text()
    bad = tmp_path / "visemes.yaml"
    bad.write_text(text.replace("phones: [P, B, M]", "phones: [P, B, M, AA]"))
    with pytest.raises(Exception, match="phone AA is in visemes bilabial and open"):
        visemes.load_table(bad)
