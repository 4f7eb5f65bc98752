"""Gaussian targets, the weighted MSE loss and the learning-rate schedule against the official code."""
from __future__ import annotations


import numpy as np
import pytest
import torch

from pose.config import TrainConfig
from pose.loss import JointsMSELoss
from pose.schedule import build_optimizer, build_scheduler, epoch_learning_rates
from pose.targets import COCO_JOINTS_WEIGHT, gaussian_patch, generate_target


@pytest.fixture
def ref(hrnet_reference):
    return hrnet_reference


def test_generate_target_matches_official(ref):
    arrays, _ = ref
    target, weight = generate_target(arrays["generate_target.joints"], arrays["generate_target.joints_vis"],
                                     image_size=(192, 256), heatmap_size=(48, 64), sigma=2)
    assert target.dtype == np.float32 and target.shape == (17, 64, 48)
    np.testing.assert_array_equal(target, arrays["generate_target.target"])
    np.testing.assert_array_equal(weight, arrays["generate_target.target_weight"])


def test_generate_target_hand_cases():
    # A joint at crop pixel (100, 60) with stride 4 -> heatmap (25, 15); sigma 3 -> 19x19 window, peak 1.
    joints = np.array([[100.0, 60.0], [-60.0, 10.0], [50.0, 50.0], [-2.0, 8.0]])
    vis = np.array([1, 1, 0, 1])
    target, weight = generate_target(joints, vis, (288, 384), (72, 96), sigma=3)
    assert target[0].max() == 1.0 and np.unravel_index(target[0].argmax(), target[0].shape) == (15, 25)
    assert target[0, 15, 25 + 1] == pytest.approx(np.exp(-1 / 18), rel=1e-6)
    assert (target[0] > 0).sum() == 19 * 19
    assert weight[1, 0] == 0 and not target[1].any()       # window entirely left of the map
    assert weight[2, 0] == 0 and not target[2].any()       # invisible
    # x = -2 -> int(-0.5 + 0.5) = 0: the Gaussian is clipped at the left border but the joint still counts.
    assert weight[3, 0] == 1 and target[3, 2, 0] == 1.0
    assert gaussian_patch(2).shape == (13, 13)
    _, weighted = generate_target(np.zeros((17, 2)) + 40, np.ones(17), (192, 256), (48, 64), 2,
                                  joints_weight=COCO_JOINTS_WEIGHT)
    np.testing.assert_allclose(weighted[:, 0], COCO_JOINTS_WEIGHT)


def test_loss_matches_official(ref):
    arrays, results = ref
    target, weight = generate_target(arrays["generate_target.joints"], arrays["generate_target.joints_vis"],
                                     (192, 256), (48, 64), 2)
    loss = JointsMSELoss(use_target_weight=True)(
        torch.from_numpy(arrays["accuracy.output"][:1]), torch.from_numpy(target[None]), torch.from_numpy(weight[None]))
    assert loss.item() == pytest.approx(results["JointsMSELoss_use_target_weight"], rel=1e-6)


def test_loss_weighting_by_hand():
    pred = torch.zeros(2, 3, 4, 4)
    target = torch.zeros(2, 3, 4, 4)
    target[:, :, 0, 0] = 2.0
    weight = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]]).unsqueeze(-1)
    # Four weighted joint maps with one error of 2 over 16 pixels each: 0.5 * (4 * 4) / (2 * 3 * 16).
    assert JointsMSELoss(True)(pred, target, weight).item() == pytest.approx(0.5 * 16 / 96)
    assert JointsMSELoss(False)(pred, target, weight).item() == pytest.approx(0.5 * 24 / 96)


def test_schedules():
    coco = epoch_learning_rates(TrainConfig())
    assert len(coco) == 210
    assert set(coco[:170]) == {1e-3} and np.allclose(coco[170:200], 1e-4) and np.allclose(coco[200:], 1e-5)
    fine = epoch_learning_rates(TrainConfig(lr=1e-4, lr_steps=(10, 15), epochs=20))
    assert np.allclose(fine[:10], 1e-4) and np.allclose(fine[10:15], 1e-5) and np.allclose(fine[15:], 1e-6)
    sgd = build_optimizer(TrainConfig(optimizer="sgd", lr=0.1), [torch.nn.Parameter(torch.zeros(1))])
    assert isinstance(sgd, torch.optim.SGD) and isinstance(build_scheduler(TrainConfig(), sgd),
                                                           torch.optim.lr_scheduler.MultiStepLR)
