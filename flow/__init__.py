"""posetrack's flow package: optical-flow backends, keypoint and box propagation, NMS.

Never imports ``pose`` or ``tracker``: keypoints are plain arrays.
"""
from flow.errors import FlowError
from flow.estimators import available_estimators, get_estimator
from flow.nms import (
    COCO_SIGMAS,
    SOURCE_DETECTED,
    SOURCE_PROPAGATED,
    box_iou_matrix,
    box_nms,
    merge_boxes,
    oks_matrix,
    oks_nms,
    oks_one_to_many,
    soft_oks_nms,
)
from flow.propagate import (
    BOX_ENLARGE,
    boxes_from_keypoints,
    propagate_boxes,
    propagate_keypoints,
    propagate_through,
    sample_flow,
)

__all__ = [
    "BOX_ENLARGE",
    "FlowError",
    "available_estimators",
    "get_estimator",
    "COCO_SIGMAS",
    "SOURCE_DETECTED",
    "SOURCE_PROPAGATED",
    "box_iou_matrix",
    "box_nms",
    "boxes_from_keypoints",
    "merge_boxes",
    "oks_matrix",
    "oks_nms",
    "oks_one_to_many",
    "propagate_boxes",
    "propagate_keypoints",
    "propagate_through",
    "sample_flow",
    "soft_oks_nms",
]
