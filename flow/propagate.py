"""Moving poses with optical flow, and person boxes from the moved keypoints (FlowTrack's box propagation).

Simple Baselines (Xiao et al. 2018, sec. 3.2), used by HRNet for PoseTrack: the keypoints of each person in frame
t-1 are moved to frame t by the optical flow, a box is taken around them and extended by 15 %, and these propagated
boxes join the detector's boxes for frame t. The 15 % is read as in ``posetrack_common.boxes`` (width and height
grow by 15 % about the centre), the same box as the PoseTrack training crops.

Conventions (plain arrays, no ``pose`` import):

* a flow field is ``(H, W, 2)`` float, ``flow[y, x] = (dx, dy)``: the pixel at integer position ``(x, y)`` in the
  earlier frame is at ``(x + dx, y + dy)`` in the later one;
* keypoints are ``(N, K, 2)`` pixel ``x, y`` with pixel centres at integers, scores ``(N, K)``;
* out of frame: a point outside ``[0, W - 1] x [0, H - 1]`` has no flow measured there; it is moved by the flow at
  the nearest border pixel (clamped sampling) and flagged ``inside=False``. :func:`propagate_keypoints` sets the
  score of a joint to 0 when it started or lands outside the frame, so it takes no part in the box;
* non-finite points (NaN for a missing joint) stay NaN and are flagged outside.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from posetrack_common.boxes import PERSON_BOX_EXTEND, extend_boxes

# Simple Baselines sec. 3.2: "expand that box by some extend (15% in experiments)" (see posetrack_common.boxes).
BOX_ENLARGE = PERSON_BOX_EXTEND


def _check_flow(flow: np.ndarray) -> np.ndarray:
    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"a flow field must have shape (H, W, 2), got {flow.shape}")
    return flow


def sample_flow(flow: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear flow at sub-pixel points.

    flow: (H, W, 2); points: (..., 2) x, y. Returns ``displacement`` (..., 2) float32 and ``inside`` (...,) bool.
    Points outside the image are sampled at the clamped position (the nearest border pixel) and get
    ``inside=False``; non-finite points get a NaN displacement and ``inside=False``.
    """
    flow = _check_flow(flow)
    points = np.asarray(points, dtype=np.float64)
    if points.shape[-1] != 2:
        raise ValueError(f"points must have shape (..., 2) x, y, got {points.shape}")
    height, width = flow.shape[:2]
    x, y = points[..., 0], points[..., 1]
    finite = np.isfinite(x) & np.isfinite(y)
    inside = finite & (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)

    xc = np.clip(np.where(finite, x, 0.0), 0, width - 1)
    yc = np.clip(np.where(finite, y, 0.0), 0, height - 1)
    x0 = np.minimum(np.floor(xc).astype(np.int64), width - 2) if width > 1 else np.zeros_like(xc, dtype=np.int64)
    y0 = np.minimum(np.floor(yc).astype(np.int64), height - 2) if height > 1 else np.zeros_like(yc, dtype=np.int64)
    x1 = np.minimum(x0 + 1, width - 1)
    y1 = np.minimum(y0 + 1, height - 1)
    wx = (xc - x0)[..., None]
    wy = (yc - y0)[..., None]

    def at(rows, cols):  # the four neighbours, read before converting (not the whole field)
        return flow[rows, cols].astype(np.float64)

    top = at(y0, x0) * (1 - wx) + at(y0, x1) * wx
    bottom = at(y1, x0) * (1 - wx) + at(y1, x1) * wx
    displacement = top * (1 - wy) + bottom * wy
    displacement[~finite] = np.nan
    return displacement.astype(np.float32), inside


def propagate_keypoints(
    keypoints: np.ndarray, flow: np.ndarray, scores: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Move keypoints (N, K, 2) from frame t-1 to frame t with the flow (H, W, 2) from t-1 to t.

    Returns the moved keypoints (N, K, 2) float32 and their scores (N, K) float32: ``scores`` (ones when None) with
    0 for joints that started outside the frame (flow there is only extrapolated) or land outside it.
    """
    keypoints = np.asarray(keypoints, dtype=np.float32)
    if keypoints.ndim != 3 or keypoints.shape[2] != 2:
        raise ValueError(f"keypoints must have shape (N, K, 2), got {keypoints.shape}")
    scores = np.ones(keypoints.shape[:2], np.float32) if scores is None else np.asarray(scores, np.float32)
    if scores.shape != keypoints.shape[:2]:
        raise ValueError(f"scores must have shape {keypoints.shape[:2]}, got {scores.shape}")
    displacement, inside_before = sample_flow(flow, keypoints)
    moved = (keypoints + displacement).astype(np.float32)
    height, width = flow.shape[:2]
    inside_after = (moved[..., 0] >= 0) & (moved[..., 0] <= width - 1) & (moved[..., 1] >= 0) & (
        moved[..., 1] <= height - 1
    )
    new_scores = np.where(inside_before & inside_after, scores, 0.0).astype(np.float32)
    return moved, new_scores


def propagate_through(
    keypoints: np.ndarray, flows: Sequence[np.ndarray], scores: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Move keypoints (N, K, 2) across several frames by chaining flows ``flows[i]``: frame t+i -> t+i+1.

    A joint's score becomes 0 from the first step where it is outside the frame. Returns (N, K, 2), (N, K).
    """
    keypoints = np.asarray(keypoints, dtype=np.float32)
    for flow in flows:
        keypoints, scores = propagate_keypoints(keypoints, flow, scores)
    if scores is None:
        scores = np.ones(keypoints.shape[:2], np.float32)
    return keypoints, np.asarray(scores, np.float32)


def boxes_from_keypoints(
    keypoints: np.ndarray,
    scores: np.ndarray,
    image_shape: tuple[int, int],
    score_threshold: float = 0.3,
    enlarge: float = BOX_ENLARGE,
    min_joints: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """Person boxes around the joints scored above ``score_threshold``, enlarged by ``enlarge`` in length.

    keypoints: (N, K, 2); scores: (N, K); image_shape: (H, W). The tight box of the selected joints grows by
    ``enlarge`` in width and height about its centre (``posetrack_common.boxes.extend_boxes``; default 0.15, the
    paper's 15 %), then is clipped to ``[0, W] x [0, H]``. ``score_threshold`` is ours (the paper gives none; the
    tracker config sets it).
    Returns boxes (N, 4) float32 xyxy and ``valid`` (N,) bool: False (box all zeros) for a person with fewer than
    ``min_joints`` selected joints or a box of zero area.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if keypoints.ndim != 3 or keypoints.shape[2] != 2 or scores.shape != keypoints.shape[:2]:
        raise ValueError(f"need keypoints (N, K, 2) and scores (N, K), got {keypoints.shape} and {scores.shape}")
    height, width = image_shape[:2]
    selected = (scores > score_threshold) & np.isfinite(keypoints).all(axis=-1)
    x = np.where(selected, keypoints[..., 0], np.nan)
    y = np.where(selected, keypoints[..., 1], np.nan)
    count = selected.sum(axis=1)
    boxes = np.zeros((len(keypoints), 4), np.float64)
    has = count > 0
    if has.any():
        tight = np.stack([np.nanmin(x[has], axis=1), np.nanmin(y[has], axis=1),
                          np.nanmax(x[has], axis=1), np.nanmax(y[has], axis=1)], axis=1)
        boxes[has] = extend_boxes(tight, enlarge)
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width)
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height)
    valid = (count >= max(min_joints, 1)) & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    boxes[~valid] = 0.0
    return boxes.astype(np.float32), valid


@dataclass(frozen=True)
class PropagatedBoxes:
    """Boxes propagated by flow: ``boxes`` (N, 4) float32 xyxy, ``valid`` (N,) bool (enough confident joints
    inside the frame), and the moved ``keypoints`` (N, K, 2) with their ``scores`` (N, K)."""

    boxes: np.ndarray
    valid: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray


def propagate_boxes(
    keypoints: np.ndarray,
    scores: np.ndarray,
    flow: np.ndarray,
    score_threshold: float = 0.3,
    enlarge: float = BOX_ENLARGE,
    min_joints: int = 2,
) -> PropagatedBoxes:
    """FlowTrack box propagation in one call: poses of frame t-1 + flow t-1 -> t => boxes for frame t.

    keypoints (N, K, 2), scores (N, K), flow (H, W, 2); see :func:`propagate_keypoints`, :func:`boxes_from_keypoints`.
    """
    moved, moved_scores = propagate_keypoints(keypoints, flow, scores)
    boxes, valid = boxes_from_keypoints(moved, moved_scores, flow.shape[:2], score_threshold, enlarge, min_joints)
    return PropagatedBoxes(boxes, valid, moved, moved_scores)
