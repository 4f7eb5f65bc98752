"""OKS, OKS-NMS and soft OKS-NMS against the official HRNet helpers' vectors, plus hand-computed cases."""
from __future__ import annotations

import numpy as np
import pytest

from pose import similarity as nms


def test_oks_one_to_many_equals_official(hrnet_reference):
    arrays, _ = hrnet_reference
    kpts, areas = arrays["oks.keypoints"], arrays["oks.areas"]
    got = nms.oks_one_to_many(kpts[0], kpts[1:], areas[0], areas[1:])
    np.testing.assert_allclose(got, arrays["oks_iou.0_vs_all"], rtol=0, atol=1e-12)


def test_oks_in_vis_thre_quirk_equals_official(hrnet_reference):
    arrays, _ = hrnet_reference
    kpts, areas = arrays["oks.keypoints"], arrays["oks.areas"]
    expected = arrays["oks_iou.0_vs_all.in_vis_thre0.2"]
    got = nms.oks_one_to_many(kpts[0], kpts[1:], areas[0], areas[1:], in_vis_thre=0.2)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    # The intended rule (joints visible in both) differs from the official one on these vectors.
    fixed = nms.oks_one_to_many(kpts[0], kpts[1:], areas[0], areas[1:], in_vis_thre=0.2, both_visible=True)
    assert np.abs(fixed - expected).max() > 1e-3


def test_oks_matrix_rows_are_one_to_many(hrnet_reference):
    arrays, _ = hrnet_reference
    kpts, areas = arrays["oks.keypoints"], arrays["oks.areas"]
    matrix = nms.oks_matrix(kpts, kpts, areas, areas, in_vis_thre=0.2)
    assert matrix.shape == (15, 15)
    for i in (0, 7, 14):
        np.testing.assert_allclose(matrix[i], nms.oks_one_to_many(kpts[i], kpts, areas[i], areas, in_vis_thre=0.2),
                                   atol=1e-12)
    np.testing.assert_allclose(np.diag(nms.oks_matrix(kpts, kpts, areas, areas)), 1.0)


@pytest.mark.parametrize("key, thresh, in_vis_thre", [
    ("oks_nms_0.9", 0.9, None), ("oks_nms_0.5", 0.5, None), ("oks_nms_0.5_invis0.2", 0.5, 0.2)])
def test_oks_nms_equals_official(hrnet_reference, key, thresh, in_vis_thre):
    arrays, results = hrnet_reference
    keep = nms.oks_nms(arrays["oks.keypoints"], arrays["oks.scores"], arrays["oks.areas"], thresh,
                       in_vis_thre=in_vis_thre)
    assert keep.tolist() == results["nms_keep_indices"][key]


@pytest.mark.parametrize("key, thresh, in_vis_thre", [
    ("soft_oks_nms_0.9", 0.9, None), ("soft_oks_nms_0.5", 0.5, None), ("soft_oks_nms_0.3_invis0.2", 0.3, 0.2)])
def test_soft_oks_nms_equals_official(hrnet_reference, key, thresh, in_vis_thre):
    arrays, results = hrnet_reference
    keep = nms.soft_oks_nms(arrays["oks.keypoints"], arrays["oks.scores"], arrays["oks.areas"], thresh,
                            in_vis_thre=in_vis_thre)
    assert keep.tolist() == results["nms_keep_indices"][key]


def test_soft_oks_nms_keeps_at_most_20():
    rng = np.random.default_rng(0)
    kpts = np.concatenate([rng.uniform(0, 500, (30, 17, 2)), np.ones((30, 17, 1))], axis=-1)
    keep = nms.soft_oks_nms(kpts, rng.uniform(size=30), np.full(30, 5000.0), 0.5)
    assert len(keep) == 20 and len(set(keep.tolist())) == 20
    assert len(nms.soft_oks_nms(kpts, rng.uniform(size=30), np.full(30, 5000.0), 0.5, max_dets=30)) == 30


def test_oks_by_hand():
    # one joint layout, K=2, sigma 0.1: e = d^2 / (2 sigma)^2 / area / 2 with area 100, d = 2 px
    a = np.array([[[0.0, 0.0, 1.0], [10.0, 0.0, 1.0]]])
    b = np.array([[[2.0, 0.0, 1.0], [10.0, 0.0, 0.1]]])
    sigmas = np.array([0.1, 0.1])
    expected_first = np.exp(-4 / 0.04 / (100 + np.spacing(1)) / 2)
    got = nms.oks_matrix(a, b, [100.0], [100.0], sigmas=sigmas)
    assert got[0, 0] == pytest.approx((expected_first + 1.0) / 2)
    got = nms.oks_matrix(a, b, [100.0], [100.0], sigmas=sigmas, in_vis_thre=0.5)  # second joint not visible in b
    assert got[0, 0] == pytest.approx(expected_first)
    with pytest.raises(ValueError, match="one value per joint"):
        nms.oks_matrix(a, b, [100.0], [100.0])  # COCO default sigmas need K = 17
