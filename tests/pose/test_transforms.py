"""pose.transforms against the official helper vectors and known geometry."""
from __future__ import annotations


import numpy as np
import pytest

from pose.keypoints import COCO17, MPII16
from pose.transforms import (
    affine_points,
    augment_and_crop,
    box_to_center_scale,
    center_scale_to_xyxy,
    crop,
    crop_batch,
    fliplr_joints,
    get_affine_transform,
    half_body_center_scale,
    invert_affine,
    mpii_center_scale,
    random_scale_rotation,
    upper_body_ids,
    with_mirrored,
    xywh_to_xyxy,
)


@pytest.fixture
def ref(hrnet_reference):
    return hrnet_reference


def test_affine_transform_matches_official(ref):
    npz, results = ref
    calls = results["get_affine_transform_calls"]
    for call in calls:
        # the official dataset passes float32 center/scale; the vectors were made that way
        trans = get_affine_transform(
            np.array(call["center"], np.float32), np.array(call["scale"], np.float32), call["rot"],
            call["output_size"], inv=bool(call["inv"]),
        )
        assert trans.shape == (2, 3)
        np.testing.assert_allclose(trans, npz[call["key"]], rtol=0, atol=1e-9)


def test_affine_transform_batched_equals_single(ref):
    npz, results = ref
    calls = [c for c in results["get_affine_transform_calls"] if c["output_size"] == [192, 256] and not c["inv"]]
    centers = np.array([c["center"] for c in calls], np.float32)
    scales = np.array([c["scale"] for c in calls], np.float32)
    rots = np.array([c["rot"] for c in calls], np.float64)
    batch = get_affine_transform(centers, scales, rots, (192, 256))
    assert batch.shape == (len(calls), 2, 3)
    for trans, call in zip(batch, calls):
        np.testing.assert_allclose(trans, npz[call["key"]], rtol=0, atol=1e-9)


def test_inverse_transform_is_inverse():
    center, scale = np.array([310.0, 175.5]), np.array([0.9, 1.2])
    for rot in (0.0, 17.0, -60.0):
        forward = get_affine_transform(center, scale, rot, (192, 256))
        backward = get_affine_transform(center, scale, rot, (192, 256), inv=True)
        np.testing.assert_allclose(backward, invert_affine(forward), atol=1e-9)
        points = np.array([[0.0, 0.0], [191.0, 255.0], [50.5, 100.25]])
        np.testing.assert_allclose(affine_points(affine_points(points, backward), forward), points, atol=1e-9)


def test_affine_geometry_by_hand():
    # scale 1.2 -> 240 px wide box onto 192 px: zoom 0.8; center -> crop center (96, 128)
    trans = get_affine_transform(np.array([320.0, 240.0]), np.array([1.2, 1.6]), 0, (192, 256))
    np.testing.assert_allclose(affine_points(np.array([[320.0, 240.0], [330.0, 250.0]]), trans),
                               [[96.0, 128.0], [104.0, 136.0]], atol=1e-9)
    # rot = 90: a point to the right of the center lands above the crop center
    trans = get_affine_transform(np.array([320.0, 240.0]), np.array([1.2, 1.6]), 90, (192, 256))
    np.testing.assert_allclose(affine_points(np.array([[330.0, 240.0]]), trans), [[96.0, 120.0]], atol=1e-4)


def test_points_batched_per_person():
    trans = get_affine_transform(np.array([[100.0, 100.0], [300.0, 200.0]]), np.array([[1.0, 1.0], [2.0, 2.0]]),
                                 0, (200, 200))
    points = np.array([[[100.0, 100.0], [150.0, 100.0]], [[300.0, 200.0], [400.0, 200.0]]])
    out = affine_points(points, trans)
    np.testing.assert_allclose(out, [[[100, 100], [150, 100]], [[100, 100], [150, 100]]], atol=1e-9)


def test_box_to_center_scale_matches_official(ref):
    _, results = ref
    cases = results["coco_xywh2cs_aspect0.75"]
    for case in cases:
        center, scale = box_to_center_scale(np.array(case["box_xywh"], np.float64), 0.75)
        assert center.dtype == np.float32 and scale.shape == (2,)
        np.testing.assert_allclose(center, case["center"], atol=1e-6)
        np.testing.assert_allclose(scale, case["scale"], rtol=1e-6)
    boxes = np.array([c["box_xywh"] for c in cases], np.float64)
    centers, scales = box_to_center_scale(boxes, 0.75)
    centers_xyxy, scales_xyxy = box_to_center_scale(xywh_to_xyxy(boxes), 0.75, box_format="xyxy")
    np.testing.assert_allclose(centers, [c["center"] for c in cases], atol=1e-6)
    np.testing.assert_allclose(scales, [c["scale"] for c in cases], rtol=1e-6)
    np.testing.assert_allclose(centers_xyxy, centers, atol=1e-5)
    np.testing.assert_allclose(scales_xyxy, scales, rtol=1e-6)
    # the padded box has the crop's aspect ratio and contains the original box
    padded = center_scale_to_xyxy(centers, scales)
    widths, heights = padded[:, 2] - padded[:, 0], padded[:, 3] - padded[:, 1]
    np.testing.assert_allclose(widths / heights, 0.75, rtol=1e-6)
    assert np.all(padded[:, :2] <= xywh_to_xyxy(boxes)[:, :2]) and np.all(padded[:, 2:] >= xywh_to_xyxy(boxes)[:, 2:])


def test_mpii_center_scale_by_hand():
    center, scale = mpii_center_scale(np.array([[101.0, 201.0], [-1.0, 50.0]]), np.array([2.0, 3.0]))
    np.testing.assert_allclose(center, [[100.0, 200.0 + 30.0], [-2.0, 49.0]])
    np.testing.assert_allclose(scale, [[2.5, 2.5], [3.0, 3.0]])


def test_fliplr_joints_matches_official(ref):
    npz, _ = ref
    joints, vis = fliplr_joints(npz["fliplr_joints.joints_in"], npz["fliplr_joints.vis_in"], 640, COCO17.flip_pairs)
    np.testing.assert_array_equal(joints, npz["fliplr_joints.joints_out"])
    np.testing.assert_array_equal(vis, npz["fliplr_joints.vis_out"])


def test_crop_puts_image_point_where_the_transform_says():
    image = np.zeros((240, 320, 3), np.uint8)
    image[150, 200] = 255                         # a single bright pixel at x=200, y=150
    center, scale = box_to_center_scale(np.array([150.0, 100.0, 90.0, 120.0]), 0.75)
    trans = get_affine_transform(center, scale, 0, (192, 256))
    out = crop(image, center, scale, (192, 256))
    assert out.shape == (256, 192, 3)
    weights = out[..., 0].astype(np.float64)
    peak = np.array([(weights.sum(0) * np.arange(192)).sum(), (weights.sum(1) * np.arange(256)).sum()]) / weights.sum()
    np.testing.assert_allclose(peak, affine_points(np.array([200.0, 150.0]), trans), atol=0.05)
    batch = crop_batch(image, np.stack([trans, trans]), (192, 256))
    np.testing.assert_array_equal(batch[1], out)


def test_upper_body_ids_are_official():
    assert upper_body_ids(COCO17.joints) == tuple(range(11))
    assert upper_body_ids(MPII16.joints) == tuple(range(7, 16))


def test_random_scale_rotation_ranges_and_rate():
    rng = np.random.default_rng(0)
    draws = np.array([random_scale_rotation(rng, 0.35, 45.0) for _ in range(4000)])
    assert draws[:, 0].min() >= 0.65 and draws[:, 0].max() <= 1.35
    assert np.abs(draws[:, 1]).max() <= 90.0
    assert abs(np.mean(draws[:, 1] != 0) - 0.6) < 0.03    # rotation with probability 0.6
    assert np.mean(np.isclose(draws[:, 0], 1.35)) > 0.01   # clipping at 1 + sf happens (|N| > 1: ~16 %)


def test_half_body_by_hand():
    joints = np.zeros((17, 3))
    joints[5:11, :2] = [[100, 100], [160, 100], [90, 140], [170, 140], [95, 180], [165, 180]]  # arms
    vis = np.zeros((17, 3))
    vis[5:11] = 1
    center, scale = half_body_center_scale(np.random.default_rng(0), joints, vis, upper_body_ids(COCO17.joints), 0.75)
    np.testing.assert_allclose(center, [130.0, 140.0])
    # joints span 80 x 80; w = 80 > 0.75 * 80, so h grows to 80 / 0.75; then / 200 and * 1.5
    np.testing.assert_allclose(scale, np.array([80.0, 80.0 / 0.75]) / 200.0 * 1.5, rtol=1e-6)
    vis[:] = 0
    vis[5] = 1
    assert half_body_center_scale(np.random.default_rng(0), joints, vis, upper_body_ids(COCO17.joints), 0.75) is None


def test_augmented_joints_sit_on_their_markers():
    """Every visible joint, moved by the sampled augmentation, lands on the marker drawn at its image position."""
    rng = np.random.default_rng(3)
    image = np.zeros((300, 240, 3), np.uint8)
    joints = np.zeros((17, 3))
    joints[:, 0] = rng.uniform(70, 170, 17).round()
    joints[:, 1] = rng.uniform(50, 250, 17).round()
    for k, (x, y) in enumerate(joints[:, :2].astype(int)):
        image[y - 2:y + 3, x - 2:x + 3] = (255, 10 * k, 0)   # marker colour encodes the joint id
    vis = np.ones((17, 3))
    vis[:, 2] = 0
    center, scale = box_to_center_scale(np.array([60.0, 40.0, 120.0, 220.0]), 0.75)
    flipped_seen = set()
    for seed in range(12):
        sample = augment_and_crop(
            np.random.default_rng(seed), image, joints, vis, center, scale, (192, 256),
            flip_pairs=COCO17.flip_pairs, upper_ids=upper_body_ids(COCO17.joints), prob_half_body=0.5,
        )
        flipped_seen.add(sample.flipped)
        perm = np.arange(17)
        if sample.flipped:
            for a, b in COCO17.flip_pairs:
                perm[a], perm[b] = b, a
        for k, (x, y) in enumerate(sample.joints[:, :2]):
            xi, yi = int(round(x)), int(round(y))
            if 0 <= xi < 192 and 0 <= yi < 256:
                pixel = sample.image[yi, xi]
                assert pixel[0] > 150, (seed, k)
                assert abs(int(pixel[1]) - 10 * perm[k]) <= 12, (seed, k, pixel)
    assert flipped_seen == {False, True}


def test_with_mirrored_appends_the_left_right_mirrors():
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (3, 8, 6, 3), dtype=np.uint8)
    both = with_mirrored(crops)
    assert both.shape == (6, 8, 6, 3) and both.dtype == np.uint8
    np.testing.assert_array_equal(both[:3], crops)
    np.testing.assert_array_equal(both[3:, :, 0], crops[:, :, 5])    # first column of a mirror = last of the crop
    np.testing.assert_array_equal(both[3:], crops[:, :, ::-1])
