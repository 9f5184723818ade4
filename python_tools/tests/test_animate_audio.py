"""`mpkit animate --audio` end to end on real speech: the shipped audio driver makes the photo
speak, the output carries the input's audio at the video's length, latency is measured per
frame, and bad audio is named."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from mpkit.audio.decode import read_audio
from mpkit.audio.features import load_spec
from mpkit.media.video import read_frames

FPS = 25


def _ffmpeg(*args: str | Path) -> None:
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", *map(str, args)],
                   check=True)


def _animate(run_cli, asset, audio: Path, out: Path, *extra: str) -> dict:
    code, stdout, stderr = run_cli("animate", "mp-tiny", "--source", asset("obama.jpg"),
                                   "--audio", audio, "-o", out, "--json", *extra)
    assert code == 0, stderr
    return json.loads(stdout)


def _envelope(samples: np.ndarray, seconds: float) -> np.ndarray:
    n = int(seconds * 10)
    return np.abs(samples[: n * 1600]).reshape(n, 1600).mean(1)  # 100 ms loudness at 16 kHz


def test_speech_becomes_a_talking_mp4_with_its_audio_at_the_same_length(run_cli, asset,
                                                                         tmp_path):
    speech = asset("librivox_0930.wav")  # the audio driver's held-out clip
    result = _animate(run_cli, asset, speech, tmp_path / "talk.mp4")
    frames = list(read_frames(tmp_path / "talk.mp4"))
    assert result["frames"] == len(frames) == 82  # 3.29 s at 25 fps
    muxed, original = read_audio(tmp_path / "talk.mp4"), read_audio(speech)
    assert abs(muxed.seconds - len(frames) / FPS) <= 1 / FPS
    assert abs(muxed.seconds - original.seconds) <= 1 / FPS
    # the muxed track is the input speech (AAC changes samples, not the loudness over time)
    assert np.corrcoef(_envelope(muxed.samples, 3.2), _envelope(original.samples, 3.2))[0, 1] > 0.95
    lat = result["latency"]
    assert 0 < lat["p50_ms"] <= lat["p90_ms"] <= lat["p99_ms"]
    assert result["lookahead_ms"] == pytest.approx(load_spec().latency_s() * 1e3)
    assert result["host_measured"] and result["trained"]
    # the face moves with the speech: frames change around the mouth
    video = np.stack(frames).astype(float)
    assert video[:, 150:230, 80:176].std(0).mean() > 0.5


def test_silence_gives_a_still_face_and_realtime_paces_the_stream(run_cli, asset, tmp_path):
    silent = tmp_path / "silence.wav"
    _ffmpeg("-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo", "-t", "1.2", "-c:a", "pcm_f32le",
            silent)
    result = _animate(run_cli, asset, silent, tmp_path / "still.mp4", "--realtime")
    frames = np.stack(list(read_frames(tmp_path / "still.mp4"))).astype(float)
    assert len(frames) == 30
    assert np.abs(np.diff(frames, axis=0)).mean() < 0.5  # one picture, up to the encoder
    # paced as a live stream, the frame loop cannot finish before the audio has played
    assert result["realtime"] and result["seconds"] >= 1.2 * 0.98


@pytest.mark.parametrize("name, args", [
    ("u8-44k.wav", ["-ar", "44100", "-c:a", "pcm_u8"]),
    ("s24.wav", ["-c:a", "pcm_s24le"]),
    ("f32-22k.wav", ["-ar", "22050", "-c:a", "pcm_f32le"]),
    ("stereo-48k.wav", ["-ar", "48000", "-af", "pan=stereo|c0=c0|c1=c0"]),
])
def test_every_wav_format_drives_the_same_talking_face(run_cli, asset, tmp_path, name, args):
    cut = tmp_path / name
    _ffmpeg("-i", asset("librivox_0930.wav"), "-t", "1.0", *args, cut)
    result = _animate(run_cli, asset, cut, tmp_path / "o.mp4")
    assert result["frames"] == 25
    assert abs(read_audio(tmp_path / "o.mp4").seconds - 1.0) <= 1 / FPS


def _refused(run_cli, asset, tmp_path: Path, args: list, code: int, message: str) -> None:
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    got, _, err = run_cli("animate", *args, "-o", out / "never.mp4")
    assert got == code and message in err, err
    assert list(out.iterdir()) == []  # no output, no temporary folder left behind


def test_bad_audio_is_named_and_leaves_nothing(run_cli, asset, tmp_path):
    short = tmp_path / "short.wav"
    _ffmpeg("-i", asset("librivox_0930.wav"), "-t", "0.01", short)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF" + bytes(range(256)) * 8)
    photo = ["--source", asset("obama.jpg")]
    cases = [
        (["mp-tiny", *photo, "--audio", short], 1, "short.wav: 10 ms of audio, shorter than one"),
        (["mp-tiny", *photo, "--audio", junk], 1, "junk.wav: not an audio or video file"),
        (["mp-tiny", *photo, "--audio", asset("carphone.mp4")], 1,
         "carphone.mp4: has no audio track"),
        (["mp-tiny", *photo, "--audio", tmp_path / "none.wav"], 1, "none.wav: no such file"),
        (["mp-tiny-nk", *photo, "--audio", asset("librivox_0930.wav")], 1,
         "has no audio driver"),
        (["mp-tiny", *photo], 2, "give exactly one of --driving VIDEO and --audio FILE"),
        (["mp-tiny", *photo, "--audio", junk, "--driving", asset("carphone.mp4")], 2,
         "give exactly one of"),
    ]
    for args, code, message in cases:
        _refused(run_cli, asset, tmp_path, args, code, message)
