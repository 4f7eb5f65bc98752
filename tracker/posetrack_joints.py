"""Poses in PoseTrack's joint layout, whatever layout the pose model predicts.

PoseTrack 2018 has COCO's 17 slots with the eyes replaced by ``head_bottom`` and ``head_top``. A model trained on
PoseTrack (layout ``posetrack18``) predicts them directly. A COCO model (``coco17``) has eyes there instead, so the
two head joints are filled in from the joints it does have (our construction; the papers do not say how):

- ``head_bottom`` = shoulders' midpoint + ``lift`` x (nose - shoulders' midpoint)  (lift 0.5: half way up the neck),
  score = min(nose, left shoulder, right shoulder);
- ``head_top`` = nose + ``top_scale`` x (nose - head_bottom)  (as far above the nose as the neck point is below it),
  score = min(nose, mean of the eyes).

An ``mpii16`` model maps by joint names (``upper_neck`` -> ``head_bottom``; no nose, so that slot stays empty).
"""
from __future__ import annotations

import numpy as np

from pose.keypoints import COCO17, POSETRACK18, convert_keypoints, get_layout


def coco17_head_joints(keypoints: np.ndarray, scores: np.ndarray, lift: float = 0.5, top_scale: float = 1.0
                       ) -> tuple[np.ndarray, np.ndarray]:
    """head_bottom and head_top of COCO-17 poses.

    keypoints: (N, 17, 2); scores: (N, 17). Returns keypoints (N, 2, 2) and scores (N, 2): head_bottom, head_top.
    """
    nose = keypoints[:, COCO17.index("nose")]
    shoulders = (keypoints[:, COCO17.index("left_shoulder")] + keypoints[:, COCO17.index("right_shoulder")]) / 2
    bottom = shoulders + lift * (nose - shoulders)
    top = nose + top_scale * (nose - bottom)
    s = scores
    nose_s = s[:, COCO17.index("nose")]
    bottom_s = np.minimum(nose_s, np.minimum(s[:, COCO17.index("left_shoulder")], s[:, COCO17.index("right_shoulder")]))
    top_s = np.minimum(nose_s, (s[:, COCO17.index("left_eye")] + s[:, COCO17.index("right_eye")]) / 2)
    return np.stack([bottom, top], axis=1), np.stack([bottom_s, top_s], axis=1)


def to_posetrack18(keypoints: np.ndarray, scores: np.ndarray, layout: str, lift: float = 0.5,
                   top_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Poses (N, K, 2), (N, K) of ``layout`` -> (N, 17, 2), (N, 17) in POSETRACK18 order (float32)."""
    keypoints = np.asarray(keypoints, np.float32)
    scores = np.asarray(scores, np.float32)
    name = get_layout(layout).name
    if name == POSETRACK18.name:
        return keypoints, scores
    if name == COCO17.name:
        out_kp, out_sc = keypoints.copy(), scores.copy()
        head_kp, head_sc = coco17_head_joints(keypoints, scores, lift, top_scale)
        slots = [POSETRACK18.index("head_bottom"), POSETRACK18.index("head_top")]
        out_kp[:, slots] = head_kp
        out_sc[:, slots] = head_sc
        return out_kp, out_sc
    return convert_keypoints(keypoints, scores, name, POSETRACK18.name)
