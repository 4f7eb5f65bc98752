"""Per-joint average precision of multi-person poses, as PoseTrack's official evaluator (poseval) computes it.

Per frame, predicted people are assigned to ground-truth people greedily by PCKh (``assign_frames``); every
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
    """poseval's pose assignment. match (..., P, G, 15) bool, gt_has (..., G, 15). Returns (..., P) GT index or -1.

    pck[p, g] = matched joints / annotated joints of g. Each prediction keeps only its best GT (first on ties),
    then each GT takes the prediction with the highest remaining pck (first on ties); pck 0 means no match.
    Leading axes are independent frames (a frame padded with people who match nothing is assigned the same).
    """
    n_annotated = gt_has.sum(axis=-1)[..., None, :]  # (..., 1, G)
    pck = match.sum(axis=-1).astype(np.float64)  # (..., P, G)
    pck = np.divide(pck, n_annotated, out=pck, where=n_annotated > 0)
    best_gt = np.argmax(pck, axis=-1)[..., None]  # (..., P, 1)
    kept = np.zeros_like(pck)
    np.put_along_axis(kept, best_gt, np.take_along_axis(pck, best_gt, axis=-1), axis=-1)
    pr_for_gt = np.argmax(kept, axis=-2)  # (..., G)
    pr_for_gt[kept.max(axis=-2) == 0] = -1
    gt_for_pr = np.full(pck.shape[:-1], -1, dtype=np.int64)
    *frame, gt = np.nonzero(pr_for_gt >= 0)
    gt_for_pr[(*frame, pr_for_gt[(*frame, gt)])] = gt
    return gt_for_pr


_CHUNK_CELLS = 1 << 16  # frames x P x G matched at once in assign_frames (x 15 joints): bounds its memory


def assign_frames(frames: list[EvalFrame], dists: list[np.ndarray]) -> list[FrameDetections]:
    """The detections of each frame from its normalised distances (P, G, 15). The frames are matched together in
    chunks, padded to the chunk's largest frame."""
    num_pr, num_gt = [len(f.pr_ids) for f in frames], [len(f.gt_ids) for f in frames]
    is_tp = [np.zeros((p, NUM_JOINTS), bool) for p in num_pr]
    start = 0
    while start < len(frames):
        end, pm, gm = start, 0, 0
        while end < len(frames):
            p2, g2 = max(pm, num_pr[end]), max(gm, num_gt[end])
            if end > start and (end + 1 - start) * p2 * g2 > _CHUNK_CELLS:
                break
            pm, gm, end = p2, g2, end + 1
        if pm and gm:
            match = np.zeros((end - start, pm, gm, NUM_JOINTS), bool)
            gt_has = np.zeros((end - start, gm, NUM_JOINTS), bool)
            for t in range(start, end):
                match[t - start, :num_pr[t], :num_gt[t]] = dists[t] <= DIST_THRESHOLD
                gt_has[t - start, :num_gt[t]] = frames[t].gt_has
            gt_for_pr = greedy_assignment(match, gt_has)  # (frames, pm)
            # A joint of an assigned prediction is a true positive iff it is within the threshold of the same joint
            # of its GT (so predicted joints the GT lacks are false positives); unassigned predictions are all false.
            chunk_tp = np.zeros((end - start, pm, NUM_JOINTS), bool)
            tt, pp = np.nonzero(gt_for_pr >= 0)
            chunk_tp[tt, pp] = match[tt, pp, gt_for_pr[tt, pp]]
            for t in range(start, end):
                is_tp[t] = chunk_tp[t - start, :num_pr[t]]
        start = end
    return [FrameDetections(f.pr_scores, tp, f.pr_has, f.gt_has.sum(axis=0)) for f, tp in zip(frames, is_tp)]


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
