"""The audio front end: any real audio file in, 16 kHz mono and log-mel windows per video frame
out, streaming exactly as offline, and bad input named."""

from __future__ import annotations

import json
import subprocess
import wave
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from mpkit.audio import golden
from mpkit.audio.decode import read_audio
from mpkit.audio.features import Stream, frame_windows, load_spec, mel_frames
from mpkit.errors import MediaError

FIXTURES = Path(__file__).resolve().parents[2] / "testdata" / "audio"
SPEECH = "librivox_0870.wav"


def _speech(asset) -> np.ndarray:
    with wave.open(str(asset(SPEECH))) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32768.0


def _convert(source: Path, out: Path, *args: str) -> Path:
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(source),
                    *args, str(out)], check=True)
    return out


def _snr_db(got: np.ndarray, want: np.ndarray) -> float:
    n = min(len(got), len(want))
    with np.errstate(divide="ignore"):
        return 10 * np.log10(np.sum(want[:n] ** 2) / np.sum((got[:n] - want[:n]) ** 2))


def test_a_16k_wav_decodes_to_its_own_samples(asset):
    audio = read_audio(asset(SPEECH))
    assert (audio.rate, audio.source_rate, audio.source_channels) == (16000, 16000, 1)
    np.testing.assert_array_equal(audio.samples, _speech(asset).astype(np.float32))
    assert audio.seconds == pytest.approx(7.10, abs=0.01)


@pytest.mark.parametrize("args, min_snr_db", [
    # 48 kHz stereo, the speech in both channels (ffmpeg's own upmix would lower it by 3 dB)
    (["-ar", "48000", "-af", "pan=stereo|c0=c0|c1=c0"], 30),
    (["-ar", "44100", "-c:a", "pcm_u8"], 20),  # 8-bit wav at 44.1 kHz
    (["-c:a", "pcm_s24le"], 60),  # 24-bit
    (["-ar", "22050", "-c:a", "pcm_f32le"], 30),  # float wav at 22.05 kHz
])
def test_every_wav_format_and_rate_comes_back_as_the_same_speech(asset, tmp_path, args,
                                                                 min_snr_db):
    path = _convert(asset(SPEECH), tmp_path / "speech.wav", *args)
    audio = read_audio(path)
    assert audio.rate == 16000
    assert abs(len(audio.samples) - 7.10 * 16000) <= 2
    assert _snr_db(audio.samples, _speech(asset)) > min_snr_db


@pytest.mark.parametrize("suffix, codec", [(".mp3", "libmp3lame"), (".webm", "libopus"),
                                           (".mp4", "aac")])
def test_compressed_audio_and_the_audio_track_of_a_video_decode(asset, tmp_path, suffix, codec):
    video = ["-f", "lavfi", "-i", "color=c=gray:s=64x64:r=25:d=7.1", "-shortest",
             "-c:v", "libvpx" if suffix == ".webm" else "libx264"] if suffix != ".mp3" else []
    out = tmp_path / f"speech{suffix}"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i",
                    str(asset(SPEECH)), *video, "-c:a", codec, str(out)], check=True)
    audio = read_audio(out)
    assert abs(audio.seconds - 7.10) < 0.1
    # lossy codecs shift the waveform: compare the loudness envelopes instead
    env = [np.abs(x[: 16000 * 7].reshape(-1, 1600)).mean(1)
           for x in (audio.samples, _speech(asset))]
    assert np.corrcoef(*env)[0, 1] > 0.95


def test_a_video_without_audio_corrupt_and_missing_files_are_named(asset, tmp_path):
    with pytest.raises(MediaError, match="carphone.mp4: has no audio track"):
        read_audio(asset("carphone.mp4"))
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF" + bytes(range(256)) * 8)
    with pytest.raises(MediaError, match="junk.wav: not an audio or video file"):
        read_audio(junk)
    with pytest.raises(MediaError, match="obama.jpg: has no audio track"):
        read_audio(asset("obama.jpg"))
    with pytest.raises(MediaError, match="nowhere.wav: no such file"):
        read_audio(tmp_path / "nowhere.wav")


def test_features_follow_the_speech_and_silence_is_the_floor(asset):
    spec = load_spec()
    speech = read_audio(asset(SPEECH)).samples
    windows = frame_windows(spec, speech, fps=25)
    assert windows.shape == (178, spec.mels, spec.context)  # 7.10 s at 25 fps
    # each frame's newest mel column is the energy of the samples its mel frame covers
    energy = np.log(np.exp(windows[:, :, -1].astype(np.float64)).sum(axis=1))
    starts = [spec.newest_frame(i, 25) * spec.hop for i in range(len(windows))]
    power = np.log([np.sum(speech[a:a + spec.window] ** 2) + 1e-9 for a in starts])
    assert np.corrcoef(energy, power)[0, 1] > 0.9  # 0.92: the filters span 55-7600 Hz only
    silent = frame_windows(spec, np.zeros(16000, np.float32), fps=25)
    assert silent.shape[0] == 25 and np.all(silent == np.float32(np.log(spec.log_floor)))


def test_audio_shorter_than_one_window_is_refused():
    spec = load_spec()
    with pytest.raises(MediaError, match="clip: 20 ms of audio, shorter than one feature window "
                                         r"\(25 ms\)"):
        frame_windows(spec, np.zeros(320, np.float32), fps=25, name="clip")
    with pytest.raises(MediaError, match="shorter than one feature window"):
        Stream(spec, 25).finish()


def test_streaming_equals_offline_and_waits_only_for_the_stated_look_ahead(asset):
    spec = load_spec()
    speech = read_audio(asset(SPEECH)).samples
    offline = frame_windows(spec, speech, fps=30)
    stream, rng, got, at = Stream(spec, 30), np.random.default_rng(0), {}, 0
    while at < len(speech):
        n = int(rng.integers(1, 4000))
        for i, window in stream.push(speech[at:at + n]):
            # emitted with the chunk that completes its audio: not before, not after
            assert at < spec.samples_needed(i, 30) <= at + n
            got[i] = window
        at += n
    for i, window in stream.finish():
        got[i] = window
    assert sorted(got) == list(range(len(offline)))
    np.testing.assert_array_equal(np.stack([got[i] for i in sorted(got)]), offline)
    # the wait past a frame's time is at most the look-ahead plus one mel frame (45 ms)
    waits = [spec.samples_needed(i, 30) / 16000 - i / 30 for i in range(len(offline))]
    assert max(waits) <= spec.latency_s() + 1e-9 and spec.latency_s() == pytest.approx(0.045)


def test_the_committed_audio_fixtures_are_what_mpkit_writes_now(asset, tmp_path):
    doc = golden.write(tmp_path)
    want = json.loads((FIXTURES / "cases.json").read_text())
    assert json.loads(json.dumps(doc)) == want
    for name in ("speech.f32", "mel.f32"):
        got = np.frombuffer((tmp_path / name).read_bytes(), "<f4")
        np.testing.assert_allclose(got, np.frombuffer((FIXTURES / name).read_bytes(), "<f4"),
                                   atol=want["tolerance"]["log_mel"] / 10)
    spec = load_spec()
    samples = np.frombuffer((FIXTURES / "speech.f32").read_bytes(), "<f4")
    mels = mel_frames(spec, samples, want["first_mel_frame"], want["mel_frames"])
    assert mels.shape == (want["mel_frames"], spec.mels)
