"""Person-box overlap: IoU and IoU NMS (``torchvision.ops``), and the merge of detected and propagated boxes.

The tracker merges detected and flow-propagated boxes by IoU NMS (:func:`merge_boxes`) and can associate by box
IoU. ``plus_one=True`` gives the official HRNet helpers' numbers (``lib/nms/nms.py``: a box from x1 to x2 covers
``x2 - x1 + 1`` pixels), which are torchvision's on boxes whose x2, y2 are one larger. Boxes are ``(N, 4)`` xyxy.
"""
from __future__ import annotations

import numpy as np

from tracker.types import SOURCE_DETECTED, SOURCE_PROPAGATED

# Added to x1, y1, x2, y2 for the official ``+1`` pixel convention.
_PLUS_ONE = np.array([0.0, 0.0, 1.0, 1.0])


def _boxes(boxes: np.ndarray, plus_one: bool):
    import torch

    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return torch.from_numpy(boxes + _PLUS_ONE if plus_one else boxes)


def box_iou_matrix(boxes_a: np.ndarray, boxes_b: np.ndarray, plus_one: bool = False) -> np.ndarray:
    """IoU of every box in ``a`` (M, 4) with every box in ``b`` (N, 4), xyxy. Returns (M, N) float64 (0 for two
    empty boxes). ``plus_one=True`` uses the official ``+1`` convention."""
    import torchvision

    iou = torchvision.ops.box_iou(_boxes(boxes_a, plus_one), _boxes(boxes_b, plus_one)).numpy()
    return np.nan_to_num(iou, nan=0.0)


def box_nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, plus_one: bool = False) -> np.ndarray:
    """Greedy IoU NMS (``torchvision.ops.nms``); boxes (N, 4) xyxy, scores (N,). Returns kept indices (int64), best
    first. A box is dropped when its IoU with a kept, better-scoring box is ``> iou_threshold``; with
    ``plus_one=True`` the result is the official HRNet ``nms``'s."""
    import torch
    import torchvision

    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(boxes) != len(scores):
        raise ValueError(f"box_nms got {len(boxes)} boxes but {len(scores)} scores")
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    keep = torchvision.ops.nms(_boxes(boxes, plus_one), torch.from_numpy(scores), float(iou_threshold))
    return keep.numpy().astype(np.int64)


def merge_boxes(
    detected_boxes: np.ndarray,
    detected_scores: np.ndarray,
    propagated_boxes: np.ndarray,
    propagated_scores: np.ndarray,
    iou_threshold: float,
    plus_one: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Merge detected (D, 4) and flow-propagated (P, 4) boxes by IoU NMS, remembering where each kept box came from.

    Returns ``keep`` (M,) int64 indices into ``np.concatenate([detected, propagated])`` (best first) and ``source``
    (M,) int8 with ``SOURCE_DETECTED`` / ``SOURCE_PROPAGATED`` (``tracker.types``); a kept box ``keep[i] >= D`` is
    propagated box ``keep[i] - D``.
    """
    detected_boxes = np.asarray(detected_boxes, dtype=np.float64).reshape(-1, 4)
    propagated_boxes = np.asarray(propagated_boxes, dtype=np.float64).reshape(-1, 4)
    num_detected = len(detected_boxes)
    boxes = np.concatenate([detected_boxes, propagated_boxes])
    scores = np.concatenate([
        np.asarray(detected_scores, dtype=np.float64).reshape(-1),
        np.asarray(propagated_scores, dtype=np.float64).reshape(-1),
    ])
    keep = box_nms(boxes, scores, iou_threshold, plus_one=plus_one)
    source = np.where(keep < num_detected, SOURCE_DETECTED, SOURCE_PROPAGATED).astype(np.int8)
    return keep, source
