import json

import numpy as np
import pytest

from mpkit.errors import NoFaceError
from mpkit.landmarks.face import FaceLandmarker
from mpkit.landmarks.facial import facial_indices
from mpkit.media.image import read_image
from mpkit.media.video import read_frames


@pytest.fixture(scope="module")
def landmarker(asset):
    return FaceLandmarker()


def test_468_points_inside_the_face_on_every_photo(landmarker, face_photos):
    for name, path in face_photos.items():
        image = read_image(path)
        face = landmarker.landmarks(image, name)
        assert face.points.shape == (468, 3), name
        assert face.presence > 0.9, name
        box = landmarker.detect(image)[0].box
        inside = ((face.points[:, 0] > box[0] - 0.2 * (box[2] - box[0]))
                  & (face.points[:, 0] < box[2] + 0.2 * (box[2] - box[0])))
        assert inside.mean() > 0.95, name
        # Anatomy: the chin (152) is below the forehead (10), the left eye right of the right one.
        assert face.points[152, 1] > face.points[10, 1], name
        assert face.points[263, 0] > face.points[33, 0], name


def test_video_tracking_follows_the_talking_mouth(landmarker, asset):
    faces = list(landmarker.track(read_frames(asset("carphone.mp4")), "carphone"))
    assert len(faces) == 120
    assert sum(f.redetected for f in faces) <= 3  # ROI tracking, not detection per frame
    gap = [np.linalg.norm(f.points[13, :2] - f.points[14, :2])
           / np.linalg.norm(f.points[10, :2] - f.points[152, :2]) for f in faces]
    assert min(gap) < 0.03 and max(gap) > 0.15  # the mouth closes and opens


def test_group_photo_picks_the_largest_face(landmarker, asset):
    image = read_image(asset("group.jpg"))
    faces = landmarker.detect(image)
    assert len(faces) >= 5
    face = landmarker.landmarks(image, "group")
    assert face.faces_found == len(faces)
    centre = face.points[:, :2].mean(0)
    box = faces[0].box
    assert box[0] < centre[0] < box[2] and box[1] < centre[1] < box[3]
    assert all(faces[0].area >= f.area for f in faces)


def test_no_face_names_the_image(landmarker, asset):
    flag = read_image(asset("obama.jpg"))[:300, :250]  # the flag beside him
    with pytest.raises(NoFaceError, match="flag.png: no face"):
        landmarker.landmarks(flag, "flag.png")


def test_facial_subset_is_106_distinct_mesh_points():
    idx = facial_indices()
    assert len(idx) == 106 and len(set(idx.tolist())) == 106 and idx.max() < 468


def test_cli_json_and_drawing(run_cli, asset, tmp_path):
    code, out, _ = run_cli("landmarks", asset("astronaut.png"), "--json")
    assert code == 0
    assert len(json.loads(out)["points"]) == 468
    png = tmp_path / "a.png"
    code, _, _ = run_cli("landmarks", asset("astronaut.png"), "-o", png)
    drawn, plain = read_image(png), read_image(asset("astronaut.png"))
    assert code == 0 and drawn.shape == plain.shape and (drawn != plain).any()


def test_cli_video_json_has_every_frame(run_cli, asset):
    code, out, _ = run_cli("landmarks", asset("carphone.mp4"), "--json")
    frames = json.loads(out)
    assert code == 0 and len(frames) == 120 and all(len(f["points"]) == 468 for f in frames)


def test_the_tracker_names_each_lost_frame_by_its_own_number(landmarker, asset):
    from mpkit.landmarks.face import FaceTracker

    frames = list(read_frames(asset("carphone.mp4"), limit=3))
    blank = np.zeros_like(frames[0])
    tracker = FaceTracker(landmarker, "clip")
    tracker.update(frames[0])
    for lost in (1, 2):  # every frame counts, the lost ones too
        with pytest.raises(NoFaceError, match=f"clip frame {lost}: no face"):
            tracker.update(blank)
    assert tracker.update(frames[1]).points.shape == (468, 3) and tracker.index == 4
