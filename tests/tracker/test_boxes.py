"""Box IoU, box NMS (torchvision.ops) and the detected/propagated merge against the official HRNet helpers'
vectors, plus hand-computed cases."""
from __future__ import annotations

import numpy as np
import pytest

from tracker import boxes
from tracker.types import SOURCE_DETECTED, SOURCE_PROPAGATED, Boxes


def test_box_nms_equals_official(hrnet_reference):
    arrays, results = hrnet_reference
    dets = arrays["box_nms.dets"]
    expected = results["box_nms_keep_0.5"]
    assert boxes.box_nms(dets[:, :4], dets[:, 4], 0.5, plus_one=True).tolist() == expected
    assert boxes.box_nms(dets[:, :4], dets[:, 4], 0.5).tolist() == expected  # torchvision path agrees here


def test_box_iou_plus_one_by_hand():
    a = np.array([[0, 0, 9, 9]], float)  # 10 x 10 pixels with +1
    b = np.array([[5, 0, 14, 9]], float)  # overlaps 5 x 10
    assert boxes.box_iou_matrix(a, b, plus_one=True)[0, 0] == pytest.approx(50 / 150)
    assert boxes.box_iou_matrix(a, b)[0, 0] == pytest.approx(36 / 126)  # 4 x 9 of 9 x 9 boxes
    # a box overlapping exactly at the threshold is kept (official rule: keep overlap <= thresh)
    keep = boxes.box_nms(np.concatenate([a, b]), np.array([0.9, 0.8]), 50 / 150, plus_one=True)
    assert keep.tolist() == [0, 1]


def test_merge_boxes_keeps_source():
    detected = Boxes.detected(np.array([[0, 0, 100, 200], [300, 0, 400, 200]], float), [0.9, 0.8])
    propagated = Boxes(np.array([[5, 5, 105, 205], [600, 50, 700, 250]], float), [0.95, 0.7],  # 0 duplicates det 0
                       [SOURCE_PROPAGATED] * 2)
    merged = boxes.merge_boxes(detected, propagated, iou_threshold=0.5)
    # propagated 0 wins over detection 0 by score, then detection 1, then propagated 1
    np.testing.assert_array_equal(merged.kept.xyxy, [propagated.xyxy[0], detected.xyxy[1], propagated.xyxy[1]])
    assert merged.kept.source.tolist() == [SOURCE_PROPAGATED, SOURCE_DETECTED, SOURCE_PROPAGATED]
    assert merged.kept.scores.tolist() == pytest.approx([0.95, 0.8, 0.7])
    np.testing.assert_array_equal(merged.suppressed.xyxy, detected.xyxy[:1])
    assert merged.suppressed.source.tolist() == [SOURCE_DETECTED]
    merged = boxes.merge_boxes(Boxes.empty(), propagated, 0.5)
    assert merged.kept.source.tolist() == [1, 1] and len(merged.suppressed) == 0
    merged = boxes.merge_boxes(Boxes.empty(), Boxes.empty(), 0.5)
    assert len(merged.kept) == 0 and len(merged.suppressed) == 0


def test_box_iou_of_empty_boxes_is_zero():
    point = np.array([[5.0, 5.0, 5.0, 5.0]])  # zero area: torchvision's 0 / 0, reported as no overlap
    assert boxes.box_iou_matrix(point, point).tolist() == [[0.0]]
    assert boxes.box_iou_matrix(point, point, plus_one=True).tolist() == [[1.0]]  # one pixel with +1
    assert boxes.box_iou_matrix(np.zeros((0, 4)), point).shape == (0, 1)
