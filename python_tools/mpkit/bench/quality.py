"""On-device quality: the frames the app rendered from the bundle's fixed sample, compared with
the eager float pipeline on the host (PSNR, SSIM, landmark distance)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from mpkit.audio.decode import read_audio
from mpkit.audio.features import frame_windows
from mpkit.errors import MpkitError, NoFaceError
from mpkit.export.bundle import Manifest, pose_bank
from mpkit.export.validate import SPEECH_FPS, paired
from mpkit.landmarks.face import FaceLandmarker, FaceTracker
from mpkit.media.assets import sha256_file
from mpkit.media.image import read_image
from mpkit.media.video import read_frames
from mpkit.metrics.image import psnr, ssim
from mpkit.metrics.landmarks import landmark_distance
from mpkit.models import zoo
from mpkit.models.audio import AudioComponent
from mpkit.pipeline.animator import Animator
from mpkit.pipeline.speech import speak


def reference_model(manifest: Manifest):
    """The float model the bundle was exported from (shipped checkpoint or seeded init)."""
    if manifest.checkpoint_sha256 is None:
        return zoo.build(manifest.model_id)
    shipped = zoo.default_checkpoint(manifest.model_id)
    if shipped is None or sha256_file(shipped) != manifest.checkpoint_sha256:
        raise MpkitError(f"the bundle was exported from a checkpoint this checkout does not ship "
                         f"(sha256 {manifest.checkpoint_sha256[:12]}…): no host reference")
    return zoo.build(manifest.model_id, shipped)


def reference_frames(manifest: Manifest, bundle: Path, indices: list[int]) -> list[np.ndarray]:
    """Eager float frames for driving-frame `indices` of the bundle's sample clip, computed as
    the app computes them (same source stage, tracking from frame 0)."""
    helpers = {h.role: bundle / h.file for h in manifest.helpers}
    model = reference_model(manifest)
    animator = Animator(model, pose_bank=pose_bank(bundle, manifest))
    driving = list(read_frames(helpers["sample_driving"]))
    avatar = animator.prepare_source(read_image(helpers["sample_source"]))
    drive = animator.prepare_driving(avatar, driving[0])
    tracker = FaceTracker(animator.landmarker)
    wanted, out = set(indices), {}
    for i in range(max(indices) + 1):
        frame = driving[i % len(driving)]
        points = tracker.update(frame).points
        if i in wanted:
            out[i] = animator.frame(avatar, drive, frame, points)[1]
    return [out[i] for i in indices]


def _audio_driver(manifest: Manifest, model):
    """The audio driver the bundle was exported with, when this checkout ships it."""
    shipped = zoo.default_audio_checkpoint(manifest.model_id)
    if not shipped.is_file() or sha256_file(shipped) != manifest.audio_checkpoint_sha256:
        raise MpkitError(f"the bundle's audio driver (sha256 "
                         f"{(manifest.audio_checkpoint_sha256 or '')[:12]}…) is not the one this "
                         "checkout ships: no host reference for its speech-driven frames")
    return zoo.audio_driver(model, shipped)


def speech_reference_frames(manifest: Manifest, bundle: Path, indices: list[int]
                            ) -> list[np.ndarray]:
    """Eager float frames for speech-driven frame `indices`, as the app makes them: the bundle's
    sample photo driven by its sample speech, window by window at the fixed speech fps, the
    clip starting over when it ends."""
    helpers = {h.role: bundle / h.file for h in manifest.helpers}
    model = reference_model(manifest)
    audio = AudioComponent(_audio_driver(manifest, model))
    animator = Animator(model, pose_bank=pose_bank(bundle, manifest))
    spec = manifest.audio_features
    samples = read_audio(helpers["sample_speech"], spec.sample_rate).samples
    windows = torch.from_numpy(frame_windows(spec, samples, SPEECH_FPS,
                                             name=str(helpers["sample_speech"])))
    avatar = animator.prepare_source(read_image(helpers["sample_source"]))
    return [speak(animator, avatar, audio, windows[i % len(windows)])[0] for i in indices]


def compare(device_frames: list[np.ndarray], reference: list[np.ndarray]) -> dict:
    """PSNR and SSIM over every frame; the landmark distance over the frames with a face on
    both sides, with the count of those and of the frames skipped, by reason."""
    pairs = paired("captured frames", reference, device_frames)
    landmarker = FaceLandmarker()
    dists, skipped = [], {"no_face_on_device": 0, "no_face_in_reference": 0}
    for ref, got in pairs:
        try:
            on_device = landmarker.landmarks(got).points
        except NoFaceError:
            skipped["no_face_on_device"] += 1
            continue
        try:
            dists.append(landmark_distance(on_device, landmarker.landmarks(ref).points))
        except NoFaceError:
            skipped["no_face_in_reference"] += 1
    return {"frames": len(pairs),
            "psnr_db_min": round(min(psnr(got, ref) for ref, got in pairs), 2),
            "ssim_min": round(min(ssim(got, ref) for ref, got in pairs), 4),
            "frames_with_face": len(dists), "frames_skipped": skipped,
            "landmark_distance_px": round(float(np.mean(dists)), 3) if dists else None}


def decode_png(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise MpkitError("a captured frame pulled from the device is not a PNG")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
