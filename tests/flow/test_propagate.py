"""Keypoint propagation with flow: bilinear sampling, out-of-frame handling, chaining, boxes from keypoints."""
from __future__ import annotations

import numpy as np
import pytest

from flow import get_estimator
from flow.propagate import (
    boxes_from_keypoints,
    propagate_boxes,
    propagate_keypoints,
    propagate_through,
    sample_flow,
)
from flow.synthetic import rotation_pair, translation_pair, two_objects_pair, zoom_pair


def _linear_flow(height=120, width=160):
    """flow(x, y) = (0.1 x + 2, -0.05 y + 1): bilinear sampling of a linear field is exact."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.stack([0.1 * xs + 2, -0.05 * ys + 1], axis=-1)


def test_sample_flow_bilinear_exact_on_linear_field():
    flow = _linear_flow()
    points = np.array([[10.25, 20.5], [0.0, 0.0], [159.0, 119.0], [77.7, 3.3]])
    displacement, inside = sample_flow(flow, points)
    expected = np.stack([0.1 * points[:, 0] + 2, -0.05 * points[:, 1] + 1], axis=-1)
    np.testing.assert_allclose(displacement, expected, atol=1e-5)
    assert inside.all()


def test_sample_flow_out_of_frame_is_clamped_and_flagged():
    flow = _linear_flow()
    points = np.array([[-5.0, 10.0], [170.0, 50.0], [np.nan, np.nan]])
    displacement, inside = sample_flow(flow, points)
    assert inside.tolist() == [False, False, False]
    np.testing.assert_allclose(displacement[0], [0.1 * 0 + 2, -0.05 * 10 + 1], atol=1e-5)  # clamped to x = 0
    np.testing.assert_allclose(displacement[1], [0.1 * 159 + 2, -0.05 * 50 + 1], atol=1e-5)  # clamped to x = W-1
    assert np.isnan(displacement[2]).all()


def test_propagate_keypoints_scores_out_of_frame_zero():
    flow = np.zeros((120, 160, 2), np.float32)
    flow[..., 0] = 5.0
    keypoints = np.array([[[10, 10], [157, 60], [-3, 50]]], np.float32)  # in, lands outside, starts outside
    moved, scores = propagate_keypoints(keypoints, flow, np.array([[0.9, 0.8, 0.7]]))
    np.testing.assert_allclose(moved[0, 0], [15, 10])
    np.testing.assert_allclose(moved[0, 1], [162, 60])
    np.testing.assert_allclose(scores, [[0.9, 0.0, 0.0]], atol=1e-7)


@pytest.mark.parametrize("make_pair", [translation_pair, rotation_pair, zoom_pair, two_objects_pair])
def test_propagated_keypoints_land_within_one_pixel(make_pair):
    pair = make_pair()
    flow = get_estimator("dis")(pair.prev, pair.next)
    rng = np.random.default_rng(7)
    ys, xs = np.nonzero(pair.valid)
    pick = rng.choice(len(xs), size=3 * 17, replace=False)
    # sub-pixel keypoints: truth by bilinear sampling of the true (smooth inside the valid area) flow
    points = np.stack([xs[pick] + rng.uniform(0, 0.9, 51), ys[pick] + rng.uniform(0, 0.9, 51)], -1)
    keypoints = points.reshape(3, 17, 2).astype(np.float32)
    truth = keypoints + sample_flow(pair.flow, keypoints)[0]
    moved, scores = propagate_keypoints(keypoints, flow)
    error = np.linalg.norm(moved - truth, axis=-1)
    assert error.max() < 1.0, f"{pair.name}: max keypoint error {error.max():.3f} px"
    assert (scores == 1).all()


def test_propagate_through_chains_flows():
    height, width = 120, 160
    flows = []
    for dx, dy in [(2.0, 1.0), (-1.0, 3.0), (0.5, -0.5)]:
        f = np.zeros((height, width, 2), np.float32)
        f[..., 0], f[..., 1] = dx, dy
        flows.append(f)
    keypoints = np.array([[[50.0, 50.0], [100.25, 60.75]]], np.float32)
    moved, scores = propagate_through(keypoints, flows, np.array([[0.6, 0.4]]))
    np.testing.assert_allclose(moved, keypoints + np.array([1.5, 3.5], np.float32), atol=1e-5)
    np.testing.assert_allclose(scores, [[0.6, 0.4]])
    # a joint leaving the frame in the second step keeps a zero score afterwards
    moved, scores = propagate_through(np.array([[[50.0, 116.0]]], np.float32), flows)  # y: 117, 120 (out), 119.5
    assert scores.tolist() == [[0.0]]


def test_boxes_from_keypoints_enlarged_and_clipped():
    keypoints = np.array([
        [[20, 30], [60, 30], [40, 110], [150, 5]],  # last joint below threshold: ignored
        [[140, 2], [159, 100], [0, 0], [0, 0]],  # grows past the right and top borders: clipped
        [[50, 50], [0, 0], [0, 0], [0, 0]],  # one joint only: no box
    ], np.float32)
    scores = np.array([[0.9, 0.9, 0.9, 0.1], [0.9, 0.9, 0.0, 0.0], [0.9, 0.0, 0.0, 0.0]])
    boxes, valid = boxes_from_keypoints(keypoints, scores, (120, 160), score_threshold=0.3)
    # person 0: tight box 20..60 x 30..110 (w 40, h 80), 15 % longer: 7.5 % of w and h on each side
    np.testing.assert_allclose(boxes[0], [20 - 3, 30 - 6, 60 + 3, 110 + 6], atol=1e-5)
    # person 1: tight 140..159 x 2..100 (w 19, h 98): x2 = 159 + 1.425 -> clipped to 160, y1 = 2 - 7.35 -> 0
    np.testing.assert_allclose(boxes[1], [140 - 1.425, 0, 160, 100 + 7.35], atol=1e-4)
    assert valid.tolist() == [True, True, False]
    np.testing.assert_array_equal(boxes[2], 0)
    boxes, _ = boxes_from_keypoints(keypoints, scores, (120, 160), score_threshold=0.3, enlarge=0.0)
    np.testing.assert_allclose(boxes[0], [20, 30, 60, 110])


def test_propagate_boxes_follows_translation():
    pair = translation_pair()
    flow = get_estimator("dis")(pair.prev, pair.next)
    keypoints = np.array([[[40, 30], [80, 30], [60, 90]]], np.float32)
    propagated = propagate_boxes(keypoints, np.ones((1, 3)), flow, enlarge=0.0)
    boxes, valid, moved = propagated.boxes, propagated.valid, propagated.keypoints
    assert valid.tolist() == [True]
    np.testing.assert_allclose(boxes[0], [40 + 3.3, 30 - 1.7, 80 + 3.3, 90 - 1.7], atol=0.5)
