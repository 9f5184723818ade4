"""Audio driving on real speech: the network trained on LibriVox alignments follows the mouth of
a held-out clip far better than shuffled audio or silence, the mouth basis is measured through
the model's own keypoints, and the component lowers whole to XNNPACK and the GPU accelerator."""

from __future__ import annotations

import json

import pytest
import torch
from mpkit.audio import mouth_basis, visemes
from mpkit.errors import MpkitError
from mpkit.models import zoo
from mpkit.models.audio import AudioComponent, AudioDriver
from mpkit.models.checkpoint import load_weights, save_weights
from mpkit.train import audio


@pytest.fixture(scope="module")
def trained(asset):
    model = zoo.build("mp-tiny", zoo.default_checkpoint("mp-tiny"))
    driver, losses = audio.train(model, steps=1500)
    return model, driver, losses


def test_lip_sync_on_held_out_speech_beats_shuffled_audio_and_silence(trained):
    _, driver, losses = trained
    assert sum(losses[-100:]) / 100 < 0.2 * sum(losses[:100]) / 100
    figures = audio.sync_figures(driver)
    assert figures["frames"] == 82  # librivox 0930: 3.29 s at 25 fps
    assert figures["audio"] > 0.4, figures
    assert figures["audio"] - max(figures["shuffled"], figures["silent"]) > 0.3, figures
    # silence keeps the mouth near rest: under a third of the widest target opening
    assert figures["silent_opening"] < figures["target_opening"] / 3, figures


def test_the_component_moves_the_source_keypoints_by_the_basis(trained, tmp_path):
    model, driver, _ = trained
    component = AudioComponent(driver)
    mel, kp = component.example_inputs(torch.Generator().manual_seed(0))
    kp_driving, mouth = component(mel, kp)
    basis = driver.mouth_basis.basis
    want = kp + (mouth[:, :1] * basis[0] + mouth[:, 1:] * basis[1]).view_as(kp)
    torch.testing.assert_close(kp_driving, want)
    assert basis.abs().max() > 0  # measured, not the zero it starts as
    path = tmp_path / "audio.safetensors"
    save_weights(driver, path, {"steps": 1500})
    again = AudioDriver(model.cfg, driver.net_cfg, driver.spec)
    load_weights(again, path)
    torch.testing.assert_close(AudioComponent(again)(mel, kp)[0], kp_driving)


def test_the_basis_needs_mixed_keypoints():
    nk = zoo.build("mp-tiny-nk", zoo.default_checkpoint("mp-tiny-nk"))
    with pytest.raises(MpkitError, match="neural keypoints only.*mixed-keypoint model"):
        mouth_basis.measure(nk, visemes.load_table())


@pytest.mark.slow
def test_the_component_lowers_whole_to_xnnpack_and_the_gpu_accelerator(trained, tmp_path):
    from mpkit.export.backends.executorch import XnnpackBackend
    from mpkit.export.backends.tflite import TfliteBackend
    from mpkit.export.recipes import load_recipe
    from mpkit.gpu import accelerator

    component = AudioComponent(trained[1])
    example = component.example_inputs(torch.Generator().manual_seed(0))
    edge = XnnpackBackend().edge_program(component, example, load_recipe("fp32"), [])
    outside = [str(n.target) for n in edge.exported_program().graph_module.graph.nodes
               if n.op == "call_function" and "getitem" not in str(n.target)
               and "executorch_call_delegate" not in str(n.target)]
    assert outside == []
    path = tmp_path / "audio.tflite"
    TfliteBackend().lower(component, example, load_recipe("fp32"), [], path)
    verdict = accelerator.place(path, "audio", bisect=False)
    assert verdict.fully_accelerated and verdict.cpu_ops == 0, verdict


def test_train_audio_refuses_a_neural_only_model_by_name(run_cli):
    code, _, err = run_cli("train-audio", "mp-tiny-nk")
    assert code == 1 and "mp-tiny-nk uses neural keypoints only" in err


def test_eval_audio_measures_the_rendered_mouth_with_both_controls(run_cli, asset):
    code, stdout, err = run_cli("eval-audio", "mp-tiny", "--source", asset("astronaut.png"),
                                "--json")
    assert code == 0, err
    rows = json.loads(stdout)["rows"]
    state, rendered = rows["mouth state"], rows["rendered astronaut.png"]
    assert state["audio"] - max(state["shuffled"], state["silent"]) > 0.3, state
    assert rendered["frames"] == 82 and rendered["audio_no_face"] == 0, rendered
    # silence renders one still mouth; speech moves it, in step with the targets more than
    # the same mouths shuffled in time (weakly: mp-tiny renders little mouth motion)
    assert rendered["silent_opening_std"] < 1e-4 < rendered["audio_opening_std"], rendered
    assert rendered["audio"] > rendered["shuffled"], rendered
