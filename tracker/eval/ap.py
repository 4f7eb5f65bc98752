"""Per-joint average precision of multi-person poses, as PoseTrack's official evaluator (poseval) computes it.

Per frame, predicted people are assigned to ground-truth people greedily by PCKh (``assign_frame``); every
predicted joint then becomes one (score, true/false positive) detection of its joint type. Per joint, the
detections of all frames are ranked by score and AP is the VOC area under the precision envelope, all points
(``average_precision``). Totals are the mean over the 15 joints.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tracker.eval.data import NUM_JOINTS, EvalFrame

DIST_THRESHOLD = 0.5  # poseval distThresh: PCKh@0.5


@dataclass
class FrameDetections:
    """Joint detections of one frame. P predicted people.

    scores (P, 15), is_tp (P, 15) bool, has (P, 15) bool (which entries are detections), n_gt (15,) number of
    annotated ground-truth joints.
    """

    scores: np.ndarray
    is_tp: np.ndarray
    has: np.ndarray
    n_gt: np.ndarray


def greedy_assignment(match: np.ndarray, gt_has: np.ndarray) -> np.ndarray:
    """poseval's pose assignment. match (P, G, 15) bool, gt_has (G, 15). Returns (P,) GT index or -1.

    pck[p, g] = matched joints / annotated joints of g. Each prediction keeps only its best GT (first on ties),
    then each GT takes the prediction with the highest remaining pck (first on ties); pck 0 means no match.
    """
    num_pr, num_gt = match.shape[:2]
    n_annotated = gt_has.sum(axis=1)  # (G,)
    pck = match.sum(axis=2).astype(np.float64)
    pck = np.divide(pck, n_annotated[None, :], out=pck, where=n_annotated[None, :] > 0)
    best_gt = np.argmax(pck, axis=1)  # (P,)
    kept = np.zeros_like(pck)
    kept[np.arange(num_pr), best_gt] = pck[np.arange(num_pr), best_gt]
    pr_for_gt = np.argmax(kept, axis=0)  # (G,)
    pr_for_gt[kept.max(axis=0) == 0] = -1
    gt_for_pr = np.full(num_pr, -1, dtype=np.int64)
    assigned = pr_for_gt >= 0
    gt_for_pr[pr_for_gt[assigned]] = np.nonzero(assigned)[0]
    return gt_for_pr


def assign_frame(frame: EvalFrame, dist: np.ndarray) -> FrameDetections:
    """Detections of one frame from its normalised distances ``dist`` (P, G, 15)."""
    num_pr, num_gt = len(frame.pr_ids), len(frame.gt_ids)
    is_tp = np.zeros((num_pr, NUM_JOINTS), bool)
    if num_pr and num_gt:
        match = dist <= DIST_THRESHOLD
        gt_for_pr = greedy_assignment(match, frame.gt_has)
        assigned = gt_for_pr >= 0
        # A joint of an assigned prediction is a true positive iff it is within the threshold of the same joint of
        # its GT (so predicted joints the GT lacks are false positives); unassigned predictions are all false.
        is_tp[assigned] = match[np.nonzero(assigned)[0], gt_for_pr[assigned]]
    return FrameDetections(frame.pr_scores, is_tp, frame.pr_has, frame.gt_has.sum(axis=0))


def precision_recall(scores: np.ndarray, is_tp: np.ndarray, n_positives: float) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall (N,) after each detection, ranked by decreasing score (poseval computeRPC).

    The ranking is ``argsort()[::-1]`` as in poseval, so ties between scores are broken the same way.
    """
    order = np.asarray(scores).argsort()[::-1]
    true_pos = np.cumsum(np.asarray(is_tp)[order].astype(np.int64))
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = true_pos / np.float64(n_positives)
    precision = true_pos / np.arange(1, len(order) + 1)
    return precision, recall


def voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """VOC average precision: area under the monotone precision envelope, over all points (poseval VOCap)."""
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.nonzero(mrec[1:] != mrec[:-1])[0] + 1
    return float(np.sum((mrec[steps] - mrec[steps - 1]) * mpre[steps]))


@dataclass
class APResult:
    """Per-joint AP, precision and recall at the end of the ranking, all x100 (15,), and their 15-joint means."""

    ap: np.ndarray
    precision: np.ndarray
    recall: np.ndarray

    @property
    def totals(self) -> dict[str, float]:
        return {name: nanmean(getattr(self, name)) for name in ("ap", "precision", "recall")}


def nanmean(values: np.ndarray) -> float:
    """Mean of the non-NaN entries (poseval's total over joints); NaN if there are none."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if len(finite) else float("nan")


def average_precision(detections: list[FrameDetections]) -> APResult:
    """Per-joint AP / precision / recall over frames, detections pooled in frame order (poseval computeMetrics)."""
    ap, pre, rec = (np.zeros(NUM_JOINTS) for _ in range(3))
    if not detections:
        return APResult(ap, pre, rec)
    scores = np.concatenate([d.scores for d in detections])  # (sum P, 15)
    is_tp = np.concatenate([d.is_tp for d in detections])
    has = np.concatenate([d.has for d in detections])
    n_gt = np.sum([d.n_gt for d in detections], axis=0, dtype=np.float64)  # (15,)
    for j in range(NUM_JOINTS):
        sel = has[:, j]
        if not sel.any():
            continue  # a joint without predictions keeps AP, precision and recall 0
        precision, recall = precision_recall(scores[sel, j], is_tp[sel, j], n_gt[j])
        ap[j] = voc_ap(recall, precision) * 100
        pre[j] = precision[-1] * 100
        rec[j] = recall[-1] * 100
    return APResult(ap, pre, rec)
