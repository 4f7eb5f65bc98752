"""Person-box overlap: IoU and IoU NMS (``torchvision.ops``), and the merge of detected and propagated boxes.

The tracker merges detected and flow-propagated boxes by IoU NMS (:func:`merge_boxes`) and can associate by box
IoU. ``plus_one=True`` gives the official HRNet helpers' numbers (``lib/nms/nms.py``: a box from x1 to x2 covers
``x2 - x1 + 1`` pixels), which are torchvision's on boxes whose x2, y2 are one larger. Boxes are ``(N, 4)`` xyxy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tracker.types import Boxes

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


@dataclass(frozen=True)
class MergedBoxes:
    """Detected + propagated boxes after IoU NMS: ``kept`` (best first) and ``suppressed`` (in input order)."""

    kept: Boxes
    suppressed: Boxes


def merge_boxes(detected: Boxes, propagated: Boxes, iou_threshold: float, plus_one: bool = False) -> MergedBoxes:
    """Merge detected and flow-propagated boxes by IoU NMS; each box keeps its ``source`` (``tracker.types``)."""
    every = Boxes.cat([detected, propagated])
    keep = box_nms(every.xyxy, every.scores, iou_threshold, plus_one=plus_one)
    return MergedBoxes(every.select(keep), every.select(np.setdiff1d(np.arange(len(every)), keep)))
