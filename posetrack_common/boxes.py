"""Person boxes grown around keypoints: the one reading of the papers' 15 %, for training crops and propagated boxes.

HRNet (Sun et al. 2019), sec. 4.3, PoseTrack training: "We extract the person box, as the input of our network,
from the annotated keypoints in the training frames by extending the bounding box of all the keypoints (for one
single person) by 15% in length."

Simple Baselines (Xiao et al. 2018), sec. 3.2, joint propagation: "Then we compute a bounding of the propagated
joints coordinates set Ĵ_i^k, and expand that box by some extend (15% in experiments) as the candidated box for pose
estimation."

Reading: "by 15% in length" is the length of the box, so the width and the height each grow by 15 % about the box's
centre (7.5 % of the width on the left and on the right, 7.5 % of the height above and below). Simple Baselines
leaves the direction open ("by some extend"); its 15 % is read the same way, so the boxes HRNet was fine-tuned on
and the boxes the tracker propagates have one shape.
"""
from __future__ import annotations

import numpy as np

# HRNet sec. 4.3 / Simple Baselines sec. 3.2: the keypoints' box is extended by 15% in length.
PERSON_BOX_EXTEND = 0.15


def extend_boxes(xyxy: np.ndarray, extend: float = PERSON_BOX_EXTEND) -> np.ndarray:
    """Boxes ``(N, 4)`` xyxy with width and height grown by ``extend`` (a fraction) about their centres.

    ``extend`` = 0.15 is the papers' 15 %: a 40 x 80 box becomes 46 x 92, 3 px wider on each side and 6 px taller at
    the top and at the bottom. Returns float64 ``(N, 4)``.
    """
    boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    if extend < 0:
        raise ValueError(f"a box extension is a fraction >= 0, got {extend}")
    half = (boxes[:, 2:] - boxes[:, :2]) * (extend / 2.0)
    return np.concatenate([boxes[:, :2] - half, boxes[:, 2:] + half], axis=1)
