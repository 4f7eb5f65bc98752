"""Weights of the learned flow backends: trained by default, fetched into the weights cache, one clear offline error,
a local checkpoint actually loaded, and random weights only when asked for (``flow.checkpoint`` / ``--flow-weights``).

No network is needed: the offline error is forced with ``POSETRACK_OFFLINE=1``, and the "trained" checkpoint of the
loading tests is a key-seeded FlowNetS saved to a file.
"""
from __future__ import annotations

import json
import logging

import cv2
import numpy as np
import pytest
import torch

from flow import FlowError, get_estimator
from flow.synthetic import translation_pair
from tests.pose.hrnet_keyseed import key_seeded_state_dict
from tracker.config import load_track_config
from tracker.components import build_flow_estimator
from tracker.run import main

ptlflow = pytest.importorskip("ptlflow")

PAIR = translation_pair(60, 80)


@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    monkeypatch.setenv("POSETRACK_WEIGHTS_DIR", str(folder))
    monkeypatch.setenv("POSETRACK_OFFLINE", "1")
    return folder


@pytest.fixture(scope="module")
def seeded_flownets(tmp_path_factory):
    """A FlowNetS checkpoint file with key-seeded weights (ptlflow's layout) and its state dict."""
    model = ptlflow.get_model("flownets")
    state = key_seeded_state_dict(model.state_dict())
    path = tmp_path_factory.mktemp("flow") / "flownets_keyseeded.ckpt"
    torch.save({"state_dict": state}, path)
    return path, state


def test_default_is_the_trained_checkpoint_and_offline_names_file_url_and_folder(offline_cache):
    url = ptlflow.get_model_reference("flownets").pretrained_checkpoints["things"]
    with pytest.raises(FlowError) as error:
        get_estimator("flownets")
    assert str(error.value) == (
        f"flow weights 'things' of flownets need the file flownets-things-98cde14d.ckpt, which is not in "
        f"{offline_cache} and downloads are off (offline mode); download it from {url} and put it in {offline_cache} "
        "(or set POSETRACK_WEIGHTS_DIR to its folder)")
    from torchvision.models.optical_flow import Raft_Small_Weights

    with pytest.raises(FlowError, match=rf"need the file raft_small_C_T_V2-01064c6d\.pth, which is not in "
                                        rf".*download it from {Raft_Small_Weights.DEFAULT.url} and put it in"):
        get_estimator("raft_small")
    # the tracker asks for the same trained weights when flow.checkpoint is left empty
    config = load_track_config("default", {"flow.name": "flownet2"})
    assert config.flow.checkpoint == ""
    with pytest.raises(FlowError, match=r"need the file flownet2-things-d63b53a7\.ckpt"):
        build_flow_estimator(config, "cpu")


def test_cached_file_is_used_and_checked(offline_cache, seeded_flownets):
    path, state = seeded_flownets
    offline_cache.mkdir()
    cached = offline_cache / "flownets-things-98cde14d.ckpt"
    cached.write_bytes(path.read_bytes())  # not ptlflow's file: its sha256 does not start with 98cde14d
    with pytest.raises(FlowError, match=r"has sha256 [0-9a-f]{16}\.\.\. but 98cde14d\.\.\. was expected"):
        get_estimator("flownets")


def test_local_checkpoint_is_loaded(seeded_flownets, caplog):
    path, state = seeded_flownets
    loaded = get_estimator("flownets", checkpoint=str(path))
    assert loaded.weights == str(path)
    for key, value in loaded.model.state_dict().items():
        assert torch.equal(value.cpu(), state[key]), key
    torch.manual_seed(0)
    with caplog.at_level(logging.WARNING, logger="flow.learned"):
        random = get_estimator("flownets", checkpoint="random")
    assert random.weights == "random (untrained)" and "runs with random weights" in caplog.text
    assert not torch.equal(random.model.state_dict()["conv1.0.weight"], state["conv1.0.weight"])
    seeded_flow, random_flow = loaded(PAIR.prev, PAIR.next), random(PAIR.prev, PAIR.next)
    assert np.abs(seeded_flow - random_flow).mean() > 1e-3 * max(np.abs(random_flow).mean(), 1e-6)
    # through the track config
    config = load_track_config("default", {"flow.name": "flownets", "flow.checkpoint": str(path)})
    built = build_flow_estimator(config, "cpu")
    assert torch.equal(built.model.state_dict()["conv1.0.weight"], state["conv1.0.weight"])
    np.testing.assert_array_equal(built(PAIR.prev, PAIR.next), seeded_flow)


def test_opencv_backends_take_no_checkpoint():
    with pytest.raises(FlowError, match="flow backend 'dis' has no weights to load"):
        build_flow_estimator(load_track_config("default", {"flow.checkpoint": "things"}), "cpu")


def _clip(folder, frames=2):
    folder.mkdir()
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
    for t in range(frames):
        cv2.imwrite(str(folder / f"{t:06d}.png"), np.roll(image, 2 * t, axis=1))
    detections = folder.parent / "dets.json"
    detections.write_text(json.dumps([{"image_id": t, "category_id": 1, "bbox": [20, 5, 30, 50], "score": 0.9}
                                      for t in range(frames)]))
    return folder, detections


def test_cli_flow_weights_header_and_offline_error(tmp_path, seeded_flownets, offline_cache, capsys):
    path, _ = seeded_flownets
    frames, detections = _clip(tmp_path / "clip")
    common = ["--video", str(frames), "--detector", f"file:{detections}", "--pose-weights", "hrnet_synthetic",
              "--flow", "flownets", "--no-progress", "--quiet"]
    assert main([*common, "--out", str(tmp_path / "a"), "--flow-weights", str(path)]) == 0
    err = capsys.readouterr().err
    assert f"flow: ptlflow:flownets with weights {path}" in err
    assert main([*common, "--out", str(tmp_path / "b"), "--flow-weights", "random"]) == 0
    assert "flow: ptlflow:flownets with RANDOM weights (flow.checkpoint: random)" in capsys.readouterr().err
    # the default (trained) weights offline: one sentence, exit 2, no prediction written
    assert main([*common, "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: flow weights 'things' of flownets need the file flownets-things-98cde14d.ckpt")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not list((tmp_path / "c").glob("*.json"))
