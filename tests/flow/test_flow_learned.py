"""Learned flow backends on CPU with random weights (``checkpoint="random"``): ptlflow FlowNetS / FlowNet2 and
torchvision RAFT.

Random weights give meaningless flow, so these check the plumbing: shapes, dtype, finite values, padding to the
model's stride and cropping back, batching, and checkpoints (save -> load through ``checkpoint=`` -> same output).
"""
from __future__ import annotations

import urllib.error

import numpy as np
import pytest
import torch

from flow import FlowError, get_estimator
from flow.synthetic import translation_pair

pytest.importorskip("ptlflow")

PAIR = translation_pair(120, 160)  # not a multiple of 64 (FlowNet) nor of 128 (RAFT's minimum): padding is exercised
SMALL = translation_pair(60, 80)  # one 64 x 128 FlowNet input after padding: fast on CPU


def _check_flow(result, height=120, width=160):
    assert result.shape == (height, width, 2)
    assert result.dtype == np.float32
    assert np.isfinite(result).all()


@pytest.fixture(scope="module")
def flownets():
    torch.manual_seed(0)
    return get_estimator("flownets", device="cpu", checkpoint="random")


def test_flownets_random_weights(flownets):
    assert flownets.model.training is False
    result = flownets(PAIR.prev, PAIR.next)
    _check_flow(result)
    assert np.abs(result).max() > 0  # a real forward pass, not zeros


def test_batch_equals_single_pairs(flownets):
    other = translation_pair(60, 80, dx=-2.0, dy=1.0, seed=9)
    pairs = [(SMALL.prev, SMALL.next), (other.prev, other.next), (SMALL.next, SMALL.prev)]
    flownets.batch_size = 2  # two forward passes: a batch of 2 and a batch of 1
    batched = flownets.batch(pairs)
    assert batched.shape == (3, 60, 80, 2)
    for i, (prev, nxt) in enumerate(pairs):
        np.testing.assert_allclose(batched[i], flownets(prev, nxt), atol=1e-4)


def test_flownets_checkpoint_round_trip(flownets, tmp_path):
    expected = flownets(SMALL.prev, SMALL.next)
    plain = tmp_path / "flownets_state_dict.pth"
    torch.save(flownets.model.state_dict(), plain)
    packed = tmp_path / "flownets_ptlflow.ckpt"  # ptlflow's own checkpoint layout
    torch.save({"state_dict": flownets.model.state_dict()}, packed)
    for path in (plain, str(packed)):
        torch.manual_seed(123)  # different random init, overwritten by the checkpoint
        loaded = get_estimator("ptlflow:flownets", checkpoint=path)
        np.testing.assert_array_equal(loaded(SMALL.prev, SMALL.next), expected)


def test_wrong_or_missing_checkpoint_is_a_clear_error(tmp_path):
    wrong = tmp_path / "raft_small.pth"
    torch.save(get_estimator("raft_small", checkpoint="random").model.state_dict(), wrong)
    with pytest.raises(FlowError, match="does not fit flow model 'flownets'"):
        get_estimator("flownets", checkpoint=wrong)
    with pytest.raises(FlowError, match="does not exist"):
        get_estimator("flownets", checkpoint=tmp_path / "absent.ckpt")
    with pytest.raises(FlowError, match="named checkpoints: things"):
        get_estimator("flownets", checkpoint="kitti_of_nowhere")
    with pytest.raises(FlowError, match="ptlflow has no model 'nosuch'"):
        get_estimator("ptlflow:nosuch", checkpoint="random")


def test_named_checkpoint_offline_names_file_and_place(monkeypatch, tmp_path):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    monkeypatch.setenv("POSETRACK_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.delenv("POSETRACK_OFFLINE", raising=False)
    with pytest.raises(FlowError, match=r"could not download flownets-things-98cde14d\.ckpt from https://\S+ "
                                        r"\(URLError: .*no network.*\); download it by hand and put it in "
                                        + str(tmp_path)):
        get_estimator("flownets", checkpoint="things")
    with pytest.raises(FlowError, match=r"could not download raft_small_C_T_V2-01064c6d\.pth from "
                                        r"https://download\.pytorch\.org/models/raft_small_C_T_V2-01064c6d\.pth"):
        get_estimator("raft_small", checkpoint="C_T_V2")
    assert list(tmp_path.iterdir()) == []  # no partial file left


def test_flownet2_random_weights_one_small_pair():
    # FlowNet2 has 162 M parameters; a 60 x 80 pair (padded to 64 x 128) keeps this to a few seconds.
    torch.manual_seed(0)
    estimate = get_estimator("flownet2", checkpoint="random")
    assert sum(p.numel() for p in estimate.model.parameters()) > 160e6
    _check_flow(estimate(SMALL.prev, SMALL.next), 60, 80)


def test_torchvision_raft_small_random_weights_and_checkpoint(tmp_path):
    torch.manual_seed(0)
    estimate = get_estimator("raft_small", iterations=3, checkpoint="random")
    result = estimate(PAIR.prev, PAIR.next)
    _check_flow(result)
    path = tmp_path / "raft_small.pth"
    torch.save(estimate.model.state_dict(), path)
    loaded = get_estimator("raft_small", checkpoint=path, iterations=3)
    np.testing.assert_array_equal(loaded(PAIR.prev, PAIR.next), result)


def test_absent_cuda_device_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(FlowError, match="no CUDA GPU"):
        get_estimator("raft_small", device="cuda", checkpoint="random")
