"""Golden fixtures of the audio front end for the app's Kotlin core (testdata/audio/): real
speech in (16 kHz mono float32), its log-mel frames (the rows [first_mel_frame, first_mel_frame + mel_frames)) and, per frame
rate, each video frame's newest mel frame and the samples it waits for.

    python -m mpkit.audio.golden [OUT_DIR]   # default: testdata/audio

The Kotlin tests reproduce them within `cases.json`'s tolerance; a Python test fails when what
this writes drifts from what is committed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from mpkit.audio.decode import read_audio
from mpkit.audio.features import frame_count, load_spec, mel_frames
from mpkit.media.assets import asset_path
from mpkit.media.files import atomic_output

SPEECH = "librivox_0870.wav"
CUT_S = (0.5, 1.7)  # 1.2 s of speech, with a word boundary in it
FPS = (25.0, 30.0)
TOLERANCE = {"log_mel": 1e-3}  # ln units; float64 FFTs in both languages, stored as float32


def write(out: Path) -> dict:
    spec = load_spec()
    audio = read_audio(asset_path(SPEECH), spec.sample_rate).samples
    samples = audio[int(CUT_S[0] * spec.sample_rate):int(CUT_S[1] * spec.sample_rate)]
    (out / "speech.f32").write_bytes(samples.astype("<f4").tobytes())
    cases = []
    for fps in FPS:
        n = frame_count(spec, len(samples), fps)
        cases.append({"fps": fps, "frames": n,
                      "newest_mel_frame": [spec.newest_frame(i, fps) for i in range(n)],
                      "samples_needed": [spec.samples_needed(i, fps) for i in range(n)]})
    first = min(c["newest_mel_frame"][0] for c in cases) - spec.context + 1
    last = max(c["newest_mel_frame"][-1] for c in cases)
    mels = mel_frames(spec, samples, first, last - first + 1)
    (out / "mel.f32").write_bytes(mels.astype("<f4").tobytes())
    document = {"spec": spec.model_dump(), "source": f"{SPEECH} [{CUT_S[0]}, {CUT_S[1]}) s",
                "samples_file": "speech.f32", "samples": len(samples), "mel_file": "mel.f32",
                "first_mel_frame": first, "mel_frames": len(mels), "tolerance": TOLERANCE,
                "cases": cases}
    with atomic_output(out / "cases.json") as tmp:
        tmp.write_text(json.dumps(document, indent=1))
    return document


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("testdata/audio")
    target.mkdir(parents=True, exist_ok=True)
    doc = write(target)
    print(f"{target}: {doc['samples']} samples, cases {[c['fps'] for c in doc['cases']]}")
