"""TopDownPoseEstimator: shapes, a known geometric transform end to end, the flip test, batching."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from pose import build_model
from pose.config import Config, load_config
from pose.decode import shift_heatmap
from pose.inference import TopDownPoseEstimator
from pose.keypoints import COCO17


class StrideSample(nn.Module):
    """Stand-in heatmap model: heatmap pixel i of every joint = red channel of crop pixel ``stride * i`` (+3 > 0)."""

    def __init__(self, num_joints: int = 17, stride: int = 4):
        super().__init__()
        self.num_joints, self.stride = num_joints, stride
        self.dummy = nn.Parameter(torch.zeros(()))    # gives the module a device

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        red = x[:, :1, :: self.stride, :: self.stride] + 3.0 + self.dummy
        return red.repeat(1, self.num_joints, 1, 1)


def mirror_conv(flip_pairs, num_joints: int = 17, seed: int = 0) -> nn.Conv2d:
    """A conv net that is exactly mirror-equivariant: the right joint's kernel is the left one's mirror image."""
    torch.manual_seed(seed)
    conv = nn.Conv2d(3, num_joints, 5, padding=2)
    with torch.no_grad():
        weight = conv.weight
        paired = {j for pair in flip_pairs for j in pair}
        for j in range(num_joints):
            if j not in paired:
                weight[j] = (weight[j] + weight[j].flip(-1)) / 2
        for a, b in flip_pairs:
            weight[b] = weight[a].flip(-1)
            conv.bias[b] = conv.bias[a]
    return conv


def blob_image(height: int, width: int, x: float, y: float, sigma: float) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width]
    red = 255 * np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2))
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 0] = np.round(red).astype(np.uint8)
    return image


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models on a shared 2-core machine run far faster single-threaded (no OpenMP spinning)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def config() -> Config:
    return Config()          # COCO-17, 192x256 crops, flip test + shift + quarter offset on


def test_empty_boxes_give_empty_arrays(config):
    estimator = TopDownPoseEstimator(StrideSample(), config)
    keypoints, scores = estimator(np.zeros((48, 64, 3), np.uint8), np.zeros((0, 4)))
    assert keypoints.shape == (0, 17, 2) and scores.shape == (0, 17)
    assert keypoints.dtype == np.float32 and scores.dtype == np.float32


def test_bad_inputs_are_reported(config):
    estimator = TopDownPoseEstimator(StrideSample(), config)
    with pytest.raises(ValueError, match="uint8 RGB"):
        estimator(np.zeros((48, 64), np.uint8), np.zeros((1, 4)))
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        estimator(np.zeros((48, 64, 3), np.uint8), np.zeros((2, 5)))


# tolerances in image pixels; one heatmap pixel is 3.1 image pixels for the larger box (1.6 = half of it)
@pytest.mark.parametrize("refine, tolerance", [("dark", 0.1), (None, 1.6)])
def test_blob_recovered_in_image_pixels(config, refine, tolerance):
    """A blob at a known image pixel comes back at that pixel through crop, model, decode and inverse affine."""
    x0, y0 = 251.4, 187.8
    image = blob_image(360, 480, x0, y0, sigma=10.0)
    boxes = np.array([[190.0, 100.0, 300.0, 260.0], [230.0, 150.0, 280.0, 230.0]])   # xyxy, both contain the blob
    estimator = TopDownPoseEstimator(StrideSample(), config, flip_test=False, refine=refine)
    keypoints, scores = estimator(image, boxes)
    assert keypoints.shape == (2, 17, 2) and scores.shape == (2, 17)
    np.testing.assert_allclose(keypoints[:, 0], [[x0, y0], [x0, y0]], atol=tolerance)
    assert np.all(scores > 3.0)


def test_flip_test_with_mirror_equivariant_model(config):
    """For a mirror-equivariant net the flipped pass, flipped back with pairs swapped, equals the plain pass."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (200, 160, 3), dtype=np.uint8)
    boxes = np.array([[20.0, 30.0, 120.0, 170.0], [50.0, 10.0, 90.0, 90.0]])
    model = mirror_conv(COCO17.flip_pairs)
    plain = TopDownPoseEstimator(model, config, flip_test=False)
    crops, _, _ = plain.crops(image, boxes)
    reference = plain.heatmaps(crops)
    unshifted = TopDownPoseEstimator(model, config, flip_test=True, shift_heatmap=False).heatmaps(crops)
    np.testing.assert_allclose(unshifted, reference, atol=1e-5, rtol=1e-5)
    shifted = TopDownPoseEstimator(model, config, flip_test=True, shift_heatmap=True).heatmaps(crops)
    np.testing.assert_allclose(shifted, (reference + shift_heatmap(reference)) / 2, atol=1e-5, rtol=1e-5)
    # and without pair swapping the result would differ: the left/right kernels are not the same
    assert not np.allclose(reference[:, 1], reference[:, 2])
    keypoints_plain, _ = plain(image, boxes)
    keypoints_flip, _ = TopDownPoseEstimator(model, config, flip_test=True, shift_heatmap=False)(image, boxes)
    np.testing.assert_allclose(keypoints_flip, keypoints_plain, atol=1e-3)


def test_batched_equals_one_at_a_time_with_hrnet():
    """A small HRNet from pose.build_model: one batch, chunks of 1 and one call per box agree."""
    small = ["model.width=8", "model.image_size=[96,128]", "model.heatmap_size=[24,32]"]
    config = load_config("coco_w32_256x192", small)
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    boxes = np.array([[10.0, 20.0, 110.0, 220.0], [150.0, 40.0, 300.0, 200.0], [60.0, 60.0, 90.0, 100.0]])
    model = build_model(config)
    batched = TopDownPoseEstimator(model, config, max_batch=64)     # BN folded, channels_last (the defaults)
    keypoints, scores = batched(image, boxes)
    chunked = TopDownPoseEstimator(model, config, max_batch=2)    # flip test: one crop + its mirror per pass
    keypoints_chunked, scores_chunked = chunked(image, boxes)
    np.testing.assert_allclose(keypoints_chunked, keypoints, atol=1e-3)
    np.testing.assert_allclose(scores_chunked, scores, rtol=1e-4, atol=1e-5)
    for i, box in enumerate(boxes):
        single_keypoints, single_scores = batched(image, box[None])
        np.testing.assert_allclose(single_keypoints[0], keypoints[i], atol=1e-3)
        np.testing.assert_allclose(single_scores[0], scores[i], rtol=1e-4, atol=1e-5)
    plain = TopDownPoseEstimator(model, config, channels_last=False, fuse_bn=False)    # plain eager PyTorch
    keypoints_plain, scores_plain = plain(image, boxes)
    np.testing.assert_allclose(keypoints_plain, keypoints, atol=1e-3)
    np.testing.assert_allclose(scores_plain, scores, rtol=1e-3, atol=1e-4)
    built = TopDownPoseEstimator.from_config(config, max_batch=4)   # pose.build_model inside
    assert [a.shape for a in built(image, boxes)] == [(3, 17, 2), (3, 17)]
