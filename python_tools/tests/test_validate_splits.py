"""The faces quantization calibrates on, `auto` chooses on and bundles are validated on are three
disjoint sets: no photo and no driving frame is in two of them."""

from itertools import combinations

import cv2
import numpy as np
import pytest

from mpkit.export.recipes import load_calibration
from mpkit.errors import MediaError
from mpkit.export.validate import driving_indices
from mpkit.media.image import read_image
from mpkit.media.video import read_frames

SPLITS = ("faces", "selection", "validation")


def _thumbnail(path) -> np.ndarray:
    grey = cv2.cvtColor(read_image(path), cv2.COLOR_RGB2GRAY)
    small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(float)
    return (small - small.mean()) / (small.std() + 1e-9)


def same_photo(a, b) -> bool:
    """Whether two files hold the same photo (re-encoded, with or without alpha, rotated or
    mirrored): their normalised thumbnails correlate almost perfectly."""
    ta, tb = _thumbnail(a), _thumbnail(b)
    turns = [np.rot90(t, k) for t in (tb, tb[:, ::-1]) for k in range(4)]
    return max(float((ta * t).mean()) for t in turns) > 0.95


def test_same_photo_finds_a_copy_and_tells_people_apart(asset):
    assert same_photo(asset("obama2.jpg"), asset("obama_rgba.png"))  # the same photo as PNG
    assert not same_photo(asset("obama.jpg"), asset("obama2.jpg"))  # same man, other photo


@pytest.mark.parametrize("a, b", list(combinations(SPLITS, 2)))
def test_splits_share_no_photo_and_no_frame(asset, a, b):
    sa, sb = load_calibration(a), load_calibration(b)
    assert not set(sa.sources) & set(sb.sources)
    copies = [(x, y) for x in sa.sources for y in sb.sources if same_photo(asset(x), asset(y))]
    assert not copies, f"{a} and {b} hold the same photo: {copies}"

    def frames(split):
        length = sum(1 for _ in read_frames(asset(split.driving.video)))
        return {(split.driving.video, i) for i in driving_indices(split, length)}

    shared = frames(sa) & frames(sb)
    assert not shared, f"{a} and {b} both drive with {sorted(shared)}"


def test_a_frame_range_the_clip_does_not_have_is_a_clear_error():
    cal = load_calibration("validation")
    empty = cal.model_copy(update={"driving": cal.driving.model_copy(update={"start": 130})})
    with pytest.raises(MediaError, match=r"has no frames in \[130, 120\)"):
        driving_indices(empty, 120)
    window = cal.model_copy(update={"driving": cal.driving.model_copy(
        update={"start": 10, "stop": 20, "frames": 3})})
    assert all(10 <= i < 20 for i in driving_indices(window, 120))
