"""Ground truth and predictions as the official PoseTrack21 kit sees them, one ``EvalFrame`` per labelled frame.

The kit's rules (its ``datasets/posetrack.py``), applied to a (ground truth, prediction) ``PoseTrackSequence`` pair
of any format:

1. Frames are paired by position in the ``images`` lists; only the frames marked ``is_labeled`` in the ground
   truth are evaluated, the others are dropped together with their predictions.
2. The ears are dropped (15 joints). A joint is present iff **x > 0 and y > 0**: the visibility flag is ignored,
   so an occluded ground-truth joint that has coordinates counts.
3. In a frame with ignore regions, every joint strictly inside a polygon becomes ``0, 0, 0``, and then every
   person whose joints all have ``x <= 0 and y <= 0`` is dropped (which covers a person entirely inside). In
   frames without ignore regions, people without joints stay.
4. The head size is 0.6 x the diagonal of the ground truth's head box; a predicted joint without a score is
   ranked at -9999 by the mAP.

The arrays use poseval's 15-joint order (``tracker.eval.data.JOINT_NAMES``), so the AP of ``tracker.eval.ap``
runs on them unchanged; ``tracker.eval.hota`` reorders its columns into the kit's.
"""
from __future__ import annotations

import numpy as np

from tracker.eval.data import (
    HEAD_SIZE_FACTOR,
    MIN_SCORE,
    NUM_JOINTS,
    PT18_TO_EVAL,
    EvalFrame,
    EvaluationError,
    points_in_polygon,
)


def _people_arrays(people, gt: bool):
    """xy (N, 15, 2), head size (N,) (ground truth) or scores (N, 15) (predictions), track ids (N,)."""
    n = len(people)
    if n == 0:
        extra = np.zeros(0) if gt else np.zeros((0, NUM_JOINTS))
        return np.zeros((0, NUM_JOINTS, 2)), extra, np.zeros(0, np.int64)
    xy = np.stack([np.asarray(p.keypoints, dtype=np.float64) for p in people])[:, PT18_TO_EVAL, :2]
    ids = np.array([int(p.track_id) for p in people], dtype=np.int64)
    if gt:
        head = np.full(n, np.nan)
        for i, p in enumerate(people):
            if p.head_box is not None:
                x1, y1, x2, y2 = (float(v) for v in p.head_box)
                head[i] = HEAD_SIZE_FACTOR * np.sqrt((x2 - x1) ** 2 + (y2 - y1) ** 2)
        return xy, head, ids
    scores = np.full((n, NUM_JOINTS), MIN_SCORE)
    for i, p in enumerate(people):
        if p.scores is not None:
            scores[i] = np.asarray(p.scores, dtype=np.float64)[PT18_TO_EVAL]
    return xy, scores, ids


def _apply_ignore_regions(xy: np.ndarray, regions: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Joints strictly inside a region -> 0, 0; returns the new xy and the people to keep (N,)."""
    xy = xy.copy()
    flat = xy.reshape(-1, 2)
    inside = np.zeros(len(flat), bool)
    for region in regions:
        inside |= points_in_polygon(flat, region)
    flat[inside] = 0.0
    keep = ~np.all((xy[..., 0] <= 0) & (xy[..., 1] <= 0), axis=1)
    return xy, keep


def kit_frames(gt_seq, pred_seq) -> list[EvalFrame]:
    """The evaluated frames of one sequence pair under the kit's rules (see the module docstring).

    Raises ``EvaluationError`` when the prediction has fewer images than the ground truth, or when a ground-truth
    person with joints in an evaluated frame has no head box.
    """
    if len(pred_seq.frames) < len(gt_seq.frames):
        raise EvaluationError(f"{pred_seq.name} has {len(pred_seq.frames)} images but the ground truth {gt_seq.name} "
                              f"has {len(gt_seq.frames)}; write one prediction image per ground-truth image")
    frames = []
    for gt_frame, pr_frame in zip(gt_seq.frames, pred_seq.frames):
        if not gt_frame.is_labeled:
            continue
        where = f"{gt_seq.name}, frame {gt_frame.file_name}"
        gt_xy, head, gt_ids = _people_arrays(gt_frame.people, gt=True)
        pr_xy, scores, pr_ids = _people_arrays(pr_frame.people, gt=False)
        regions = [np.asarray(r, dtype=np.float64).reshape(-1, 2) for r in gt_frame.ignore_regions]
        regions = [r for r in regions if len(r)]
        if regions:
            gt_xy, keep = _apply_ignore_regions(gt_xy, regions)
            gt_xy, head, gt_ids = gt_xy[keep], head[keep], gt_ids[keep]
            pr_xy, keep = _apply_ignore_regions(pr_xy, regions)
            pr_xy, scores, pr_ids = pr_xy[keep], scores[keep], pr_ids[keep]
        gt_has = (gt_xy[..., 0] > 0) & (gt_xy[..., 1] > 0)
        pr_has = (pr_xy[..., 0] > 0) & (pr_xy[..., 1] > 0)
        missing = np.isnan(head) & gt_has.any(axis=1)
        if missing.any():
            raise EvaluationError(f"{where}: ground-truth track {gt_ids[missing][0]} has joints but no head box, "
                                  "which normalises every distance; add its 'bbox_head' [x, y, w, h]")
        frames.append(EvalFrame(gt_xy, gt_has, gt_ids, head, pr_xy, pr_has, scores, pr_ids, where))
    return frames
