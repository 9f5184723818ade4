"""The face networks ported from TF.js weights, and the training losses built on them, on real
photos cut the way training cuts them (face crop at 256², 106 facial keypoints)."""

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mpkit.errors import AssetError
from mpkit.facenets import convert
from mpkit.facenets.tfjs import read_weights
from mpkit.landmarks.facial import facial_group, facial_indices, to_unit
from mpkit.media.image import read_image
from mpkit.pipeline.crop import face_crop
from mpkit.train import losses

REFERENCE = json.loads((Path(__file__).parent / "data" / "facenets_tfjs_reference.json")
                       .read_text())
OBAMA = ("obama.jpg", "obama2.jpg", "obama3.jpg")
OTHERS = ("biden.jpg", "elder1.jpg", "portrait.jpg")
SIZE = 256


@pytest.fixture(scope="module")
def nets(asset):
    return {name: convert.load(name) for name in convert.FACE_NETS}


@pytest.fixture(scope="module")
def faces(asset):
    """name -> (image [1,3,256,256] in [0,1], facial keypoints [1,106,2] in [-1,1])."""
    from mpkit.landmarks.face import FaceLandmarker

    landmarker, out = FaceLandmarker(), {}
    for name in OBAMA + OTHERS:
        image = read_image(asset(name))
        points = landmarker.landmarks(image, name=name).points
        crop = face_crop(points)
        facial = to_unit(crop.points_to_crop(points[facial_indices()], SIZE), SIZE)
        out[name] = (torch.from_numpy(crop.apply(image, SIZE)).permute(2, 0, 1)[None].float() / 255,
                     torch.from_numpy(facial.astype(np.float32))[None])
    return out


def _crop(asset, ref: dict) -> torch.Tensor:
    image = read_image(asset("obama.jpg"))
    rows, cols = slice(*ref["rows"]), slice(*ref["cols"])
    return torch.from_numpy(image[rows, cols].copy()).permute(2, 0, 1)[None].float()


def test_ported_nets_reproduce_tfjs(nets, asset):
    """Outputs recorded from TensorFlow.js 4.22 (CPU backend) running face-api.js and Human."""
    ref = REFERENCE["face_recognition_150"]
    got = nets["face_recognition_net"](_crop(asset, ref))[0]
    assert (got - torch.tensor(ref["embedding"])).abs().max() < 1e-4
    ref = REFERENCE["faceres_224"]
    got = nets["faceres"](_crop(asset, ref))[0].mean((2, 3))[0]
    assert (got - torch.tensor(ref["embedding"])).abs().max() < 1e-3
    ref = REFERENCE["ssd_mobilenetv1_256"]
    block5, block13 = nets["ssd_mobilenetv1"](_crop(asset, ref) / 127.5 - 1, (5, 13))
    assert (block5.mean((2, 3))[0] - torch.tensor(ref["block5_mean"])).abs().max() < 1e-4
    assert (block13.mean((2, 3))[0] - torch.tensor(ref["block13_mean"])).abs().max() < 1e-4


def test_face_api_recognition_net_is_dlibs_network(nets, asset):
    """face-api.js's FaceRecognitionNet carries dlib's weights (uint8-quantized): on dlib's own
    aligned chips the two embeddings nearly coincide, so it cannot be the identity loss while
    `mpkit eval` scores with dlib."""
    dlib = pytest.importorskip("dlib")
    from mpkit.metrics.identity import SAME_PERSON

    shape = dlib.shape_predictor(str(asset("shape_predictor_5_face_landmarks.dat")))
    dlib_net = dlib.face_recognition_model_v1(
        str(asset("dlib_face_recognition_resnet_model_v1.dat")))
    detector = dlib.get_frontal_face_detector()
    ours, theirs = {}, {}
    for name in OBAMA + OTHERS:
        image = read_image(asset(name))
        box = max(detector(image, 1), key=lambda r: r.area())
        chip = dlib.get_face_chip(image, shape(image, box), size=150, padding=0.25)
        theirs[name] = np.array(dlib_net.compute_face_descriptor(chip))
        x = torch.from_numpy(chip).permute(2, 0, 1)[None].float()
        ours[name] = nets["face_recognition_net"](x)[0].numpy()
    gaps = [np.linalg.norm(ours[n] - theirs[n]) for n in ours]
    assert max(gaps) < 0.1 * SAME_PERSON, gaps
    for a, b in itertools.combinations(ours, 2):
        d_ours, d_dlib = np.linalg.norm(ours[a] - ours[b]), np.linalg.norm(theirs[a] - theirs[b])
        assert abs(d_ours - d_dlib) < 0.03, (a, b, d_ours, d_dlib)


def test_identity_loss_same_person_below_different_people(nets, faces):
    faceres = nets["faceres"]
    loss = {(a, b): float(losses.identity_loss(faceres, faces[a][0], faces[a][1], faces[b][0],
                                               faces[b][1]))
            for a, b in itertools.combinations(faces, 2)}
    same = [v for (a, b), v in loss.items() if a in OBAMA and b in OBAMA]
    obama_vs_others = [v for (a, b), v in loss.items() if a in OBAMA and b in OTHERS]
    assert max(same) < min(obama_vs_others), loss
    image, facial = faces["obama.jpg"]
    assert float(losses.identity_loss(faceres, image, facial, image)) < 1e-5


def test_identity_loss_has_gradient_towards_the_reference(nets, faces):
    faceres = nets["faceres"]
    (pred, facial), (ref, ref_facial) = faces["biden.jpg"], faces["obama.jpg"]
    pred = pred.clone().requires_grad_()
    loss = losses.identity_loss(faceres, pred, facial, ref, ref_facial)
    loss.backward()
    stepped = (pred - 0.5 * pred.grad / pred.grad.abs().max()).clamp(0, 1).detach()
    assert float(losses.identity_loss(faceres, stepped, facial, ref, ref_facial)) < loss.item()


def test_face_perceptual_loss_grows_with_blur(nets, faces):
    ssd = nets["ssd_mobilenetv1"]
    image = faces["obama.jpg"][0]
    assert float(losses.face_perceptual_loss(ssd, image, image)) == 0
    blurred = [losses.face_perceptual_loss(ssd, _blur(image, s), image) for s in (1, 2, 4)]
    assert 0 < blurred[0] < blurred[1] < blurred[2], blurred
    other = losses.face_perceptual_loss(ssd, faces["biden.jpg"][0], image)
    assert other > blurred[0]


def _blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    r = int(3 * sigma)
    k = torch.exp(-torch.arange(-r, r + 1.0) ** 2 / (2 * sigma**2))
    k = (k / k.sum()).view(1, 1, 1, -1).repeat(3, 1, 1, 1)
    x = F.conv2d(F.pad(image, (r, r, 0, 0), mode="replicate"), k, groups=3)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.transpose(2, 3), groups=3)


def test_colour_loss_zero_for_same_statistics_and_grows_with_shift(faces):
    image, facial = faces["obama.jpg"]
    assert float(losses.colour_loss(image, facial, image, facial)) == 0
    # the mirrored face has the same pixels inside the mirrored mask: the same statistics
    mirrored = facial * torch.tensor([-1.0, 1.0])
    assert float(losses.colour_loss(image.flip(-1), mirrored, image, facial)) < 1e-6
    grey = image.mean(1, keepdim=True)
    faded = [float(losses.colour_loss(grey + a * (image - grey), facial, image, facial))
             for a in (0.9, 0.6, 0.3)]
    assert 0 < faded[0] < faded[1] < faded[2], faded
    tint = torch.tensor([0.0, 0.0, 1.0]).view(1, 3, 1, 1)
    tinted = [float(losses.colour_loss((image + s * tint).clamp(0, 1), facial, image, facial))
              for s in (0.02, 0.05, 0.1)]
    assert 0 < tinted[0] < tinted[1] < tinted[2], tinted


def test_colour_loss_compares_the_face_not_the_frame(faces):
    """Colouring everything outside the face ellipse costs nothing; the face itself does."""
    image, facial = faces["portrait.jpg"]
    mask = losses.face_mask(facial, SIZE)
    assert 0.05 < float(mask.mean()) < 0.6
    outside = image * mask + torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1) * (1 - mask)
    assert float(losses.colour_loss(outside, facial, image, facial)) < 1e-6
    inside = image * (1 - mask) + (image * 0.8) * mask
    assert float(losses.colour_loss(inside, facial, image, facial)) > 0.01


def test_mouth_loss_sees_the_mouth_and_only_the_mouth(faces):
    """Darkening the inside of the lips (a mouth that should be open) costs the mouth loss far
    more than the frame's L1; changing the forehead costs it nothing."""
    image, facial = faces["obama.jpg"]
    lips = facial[:, facial_group("lips")]
    assert lips.shape[1] == 30
    assert float(losses.mouth_loss(image, image, lips)) == 0
    px = ((lips[0] + 1) * (SIZE - 1) / 2).round().long()
    (x0, y0), (x1, y1) = px.amin(0), px.amax(0)
    opened = image.clone()
    opened[..., y0:y1, x0 + (x1 - x0) // 4:x1 - (x1 - x0) // 4] = 0.05
    frame_l1 = float((opened - image).abs().mean())
    assert float(losses.mouth_loss(opened, image, lips)) > 4 * frame_l1 > 0  # crop: ~frame/5
    forehead = image.clone()
    forehead[..., : SIZE // 4, :] = 0
    assert float(losses.mouth_loss(forehead, image, lips)) == 0


def test_converted_weights_are_hash_checked(nets, tmp_path, monkeypatch):
    name = "ssd_mobilenetv1"
    data = bytearray(convert.converted_path(name).read_bytes())
    data[-1] ^= 1
    monkeypatch.setenv("MPKIT_CACHE_DIR", str(tmp_path))
    convert.converted_path(name).parent.mkdir(parents=True)
    convert.converted_path(name).write_bytes(bytes(data))
    convert.load.cache_clear()
    try:
        with pytest.raises(AssetError, match="convert-face-nets"):
            convert.load(name)
    finally:
        convert.load.cache_clear()


def test_tfjs_reader_refuses_a_truncated_shard(tmp_path):
    groups = [{"paths": ["w.bin"], "weights": [
        {"name": "a", "shape": [4], "dtype": "float32"},
        {"name": "b", "shape": [2], "dtype": "float32",
         "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1.0}}]}]
    shard = tmp_path / "w.bin"
    shard.write_bytes(np.arange(4, dtype=np.float32).tobytes() + bytes([0, 4]))
    w = read_weights(groups, [shard], "w")
    assert w["b"].tolist() == [-1.0, 1.0] and w["a"].tolist() == [0, 1, 2, 3]
    shard.write_bytes(np.arange(4, dtype=np.float32).tobytes() + bytes([0]))
    with pytest.raises(AssetError, match="end inside b"):
        read_weights(groups, [shard], "w")


def test_convert_face_nets_command(run_cli, asset):
    code, out, err = run_cli("assets", "convert-face-nets", "--json")
    assert code == 0, err
    rows = {r["name"]: r for r in json.loads(out)}
    assert set(rows) == set(convert.FACE_NETS)
    for name, row in rows.items():
        assert convert.sha256_file(Path(row["path"])) == convert.FACE_NETS[name].sha256
