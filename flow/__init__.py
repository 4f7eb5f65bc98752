"""posetrack's flow package: optical-flow backends and keypoint / box propagation (motion only).

Never imports ``pose`` or ``tracker``: keypoints are plain arrays.
"""
from flow.errors import FlowError
from flow.estimators import available_estimators, get_estimator
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
    "boxes_from_keypoints",
    "propagate_boxes",
    "propagate_keypoints",
    "propagate_through",
    "sample_flow",
]
