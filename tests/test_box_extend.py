"""The papers' 15 % read once (``posetrack_common.boxes``): PoseTrack training crops and flow-propagated boxes get
the same box from the same joints, width and height 15 % longer about the centre."""
from __future__ import annotations

import numpy as np

from flow.propagate import boxes_from_keypoints
from pose.config import DataConfig
from pose.data.posetrack_train import keypoint_box
from posetrack_common.boxes import PERSON_BOX_EXTEND, extend_boxes
from tracker.config import FlowConfig


def test_extend_boxes_hand_computed():
    # a 40 x 80 box grows to 46 x 92: 3 px left and right, 6 px above and below, same centre
    np.testing.assert_allclose(extend_boxes([[20, 30, 60, 110]]), [[17, 24, 63, 116]])
    np.testing.assert_allclose(extend_boxes([[20, 30, 60, 110]], 0.0), [[20, 30, 60, 110]])
    assert PERSON_BOX_EXTEND == FlowConfig().box_extend == DataConfig().keypoint_box_extend == 0.15


def test_training_box_equals_propagated_box():
    joints = np.zeros((17, 3))
    joints[[0, 5, 6, 15, 16], :2] = [[50, 20], [38, 40], [64, 42], [41, 130], [60, 128]]
    joints[[0, 5, 6, 15, 16], 2] = 1
    x, y, w, h = keypoint_box(joints)                       # PoseTrack training: [x, y, w, h]
    np.testing.assert_allclose([w, h], [29.9, 126.5])        # tight box 38..64 x 20..130, x 1.15
    scores = (joints[:, 2] > 0).astype(np.float32)[None]
    boxes, valid = boxes_from_keypoints(joints[None, :, :2], scores, (480, 640), score_threshold=0.5)
    assert valid.tolist() == [True]
    np.testing.assert_allclose(boxes[0], [x, y, x + w, y + h], rtol=1e-6)
