"""Per-joint CLEAR-MOT tracking metrics (MOTA, MOTP, precision, recall) as PoseTrack's poseval computes them.

poseval runs one ``motmetrics.MOTAccumulator`` per joint per sequence: objects are the GT people having that
joint, hypotheses the predicted people having it, and a pair can match when its PCKh-normalised distance is
<= 0.5. ``JointAccumulator`` is a lean re-implementation of motmetrics 1.4's ``MOTAccumulator.update`` (same
carry-over of previous matches, same Hungarian step through ``scipy.optimize.linear_sum_assignment`` on the same
cost matrix, same event types) that keeps only the counts the metrics need instead of a pandas event table;
tests check it against motmetrics itself.

poseval's quirks, reproduced by default (``textbook=False``):
- the last frame of every sequence is left out;
- a frame whose GT or prediction list is empty counts as exactly one miss and one false positive per joint
  (a dummy object and hypothesis that cannot match), whatever the real number of joints;
- MOTP sums the distances of *all* events, including motmetrics' RAW events (every pairable GT/prediction pair
  of the frame) and the TRANSFER/ASCEND/MIGRATE events, so it is not the CLEAR-MOT MOTP.
``textbook=True`` uses every evaluated frame (the last one too; unlabeled frames are still left out), the real
objects and hypotheses of empty frames, and MOTP over matched pairs only (MATCH and SWITCH distances).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from tracker.eval.ap import DIST_THRESHOLD, nanmean
from tracker.eval.data import NUM_JOINTS, EvalFrame


def _expensive_edges(costs: np.ndarray) -> np.ndarray:
    """motmetrics' ``add_expensive_edges``: NaN/inf (cannot pair) -> a cost larger than any valid assignment."""
    valid = np.isfinite(costs)
    if valid.all():
        return costs.copy()
    if not valid.any():
        return np.zeros_like(costs)
    r = min(costs.shape)
    c = np.abs(costs[valid]).max() + 1
    return np.where(valid, costs, 2 * r * c + 1)


@dataclass
class MOTCounts:
    """Event counts of one joint (scalars) or of 15 joints (arrays of shape (15,))."""

    misses: np.ndarray | float = 0.0
    switches: np.ndarray | float = 0.0
    false_positives: np.ndarray | float = 0.0
    objects: np.ndarray | float = 0.0
    matches: np.ndarray | float = 0.0
    sum_d_all_events: np.ndarray | float = 0.0  # poseval's sumD: every event's distance, RAW included
    sum_d_matched: np.ndarray | float = 0.0  # MATCH + SWITCH distances only (textbook MOTP)

    @property
    def detections(self):
        return self.matches + self.switches

    def __add__(self, other: "MOTCounts") -> "MOTCounts":
        return MOTCounts(*(getattr(self, f) + getattr(other, f) for f in _FIELDS))


_FIELDS = ("misses", "switches", "false_positives", "objects", "matches", "sum_d_all_events", "sum_d_matched")


def zero_counts() -> MOTCounts:
    """Per-joint counts (15,) of nothing: the start of a sum over sequences (also when there is none)."""
    return MOTCounts(*(np.zeros(NUM_JOINTS) for _ in _FIELDS))


@dataclass
class JointAccumulator:
    """motmetrics 1.4 ``MOTAccumulator(auto_id=True)`` for one joint of one sequence, counting instead of logging.

    State as in motmetrics: ``pairing`` (object -> its current hypothesis), ``hyp_pairing`` (hypothesis -> the
    object it last matched in the assignment step), which objects have ever been matched and which hypotheses
    have ever been used (these decide MIGRATE and ASCEND events, whose distances enter poseval's MOTP).
    """

    counts: MOTCounts = field(default_factory=MOTCounts)
    pairing: dict = field(default_factory=dict)
    hyp_pairing: dict = field(default_factory=dict)
    matched_objects: set = field(default_factory=set)
    seen_hypotheses: set = field(default_factory=set)

    def update(self, oids: np.ndarray, hids: np.ndarray, dists: np.ndarray) -> None:
        """One frame: object ids (N,), hypothesis ids (M,), distances (N, M) with NaN for cannot-pair."""
        oids, hids = np.asarray(oids).tolist(), np.asarray(hids).tolist()
        dists = np.asarray(dists, dtype=np.float64).reshape(len(oids), len(hids)).copy()
        c = self.counts
        finite = np.isfinite(dists)
        c.sum_d_all_events += float(np.sum(dists, where=finite))  # RAW events
        c.objects += len(oids)
        o_done = [False] * len(oids)
        h_done = [False] * len(hids)
        if oids and hids:
            # 1. Carry forward previous pairings that are still pairable.
            hid_index = {h: j for j, h in enumerate(hids)}
            for i, o in enumerate(oids):
                if o not in self.pairing:
                    continue
                j = hid_index.get(self.pairing[o])
                if j is None or h_done[j] or not finite[i, j]:
                    continue
                o_done[i] = h_done[j] = True
                d = float(dists[i, j])
                c.matches += 1
                c.sum_d_all_events += d
                c.sum_d_matched += d
                self.matched_objects.add(o)
                self.seen_hypotheses.add(hids[j])
            # 2. Hungarian on the rest (same matrix motmetrics hands its scipy solver).
            o_mask, h_mask = np.array(o_done, bool), np.array(h_done, bool)
            if not (o_mask.all() or h_mask.all()) and finite[~o_mask][:, ~h_mask].any():
                dists[o_mask, :] = np.nan
                dists[:, h_mask] = np.nan
                rows, cols = linear_sum_assignment(_expensive_edges(dists))
                for i, j in zip(rows.tolist(), cols.tolist()):
                    d = dists[i, j]
                    if not np.isfinite(d):
                        continue
                    d = float(d)
                    o, h = oids[i], hids[j]
                    switch = o in self.pairing and self.pairing[o] != h
                    if switch and h not in self.seen_hypotheses:
                        c.sum_d_all_events += d  # ASCEND event
                    if h in self.hyp_pairing and self.hyp_pairing[h] != o:  # TRANSFER event
                        if o not in self.matched_objects:
                            c.sum_d_all_events += d  # MIGRATE event
                        c.sum_d_all_events += d
                    self.seen_hypotheses.add(h)
                    self.matched_objects.add(o)
                    if switch:
                        c.switches += 1
                    else:
                        c.matches += 1
                    c.sum_d_all_events += d
                    c.sum_d_matched += d
                    o_done[i] = h_done[j] = True
                    self.pairing[o] = h
                    self.hyp_pairing[h] = o
        # 3./4. Unpaired objects are misses, unpaired hypotheses false positives.
        c.misses += o_done.count(False)
        c.false_positives += h_done.count(False)


def frame_inputs(frame: EvalFrame, dist: np.ndarray, textbook: bool = False) -> list[tuple]:
    """For each of the 15 joints of a frame: object ids (N,), hypothesis ids (M,), distances (N, M).

    Objects are the GT people having the joint, hypotheses the predicted people having it; distances above the
    threshold are NaN (cannot pair). poseval's empty-frame rule (unless ``textbook``): no GT or no predicted
    person -> one dummy object and hypothesis that cannot pair, for every joint.
    """
    if not textbook and (len(frame.gt_ids) == 0 or len(frame.pr_ids) == 0):
        return [(np.zeros(1, np.int64), np.zeros(1, np.int64), np.full((1, 1), np.nan))] * NUM_JOINTS
    with np.errstate(invalid="ignore"):
        pairable = np.where(dist <= DIST_THRESHOLD, dist, np.nan).transpose(2, 1, 0)  # (15, G, P)
    gt_has, pr_has = frame.gt_has.T, frame.pr_has.T  # (15, G), (15, P)
    return [(frame.gt_ids[gt_has[j]], frame.pr_ids[pr_has[j]], pairable[j][gt_has[j]][:, pr_has[j]])
            for j in range(NUM_JOINTS)]


def frame_joint_inputs(frame: EvalFrame, dist: np.ndarray, joint: int, textbook: bool = False) -> tuple:
    """:func:`frame_inputs` of one joint."""
    return frame_inputs(frame, dist, textbook)[joint]


def sequence_counts(frames: list[EvalFrame], dists: list[np.ndarray], textbook: bool = False) -> MOTCounts:
    """Per-joint event counts (arrays (15,)) of one sequence, one accumulator per joint as poseval does."""
    if not textbook:
        frames, dists = frames[:-1], dists[:-1]  # poseval: imgidxs[:-1]
    accumulators = [JointAccumulator() for _ in range(NUM_JOINTS)]
    for frame, dist in zip(frames, dists):
        for acc, inputs in zip(accumulators, frame_inputs(frame, dist, textbook)):
            acc.update(*inputs)
    return MOTCounts(*(np.array([getattr(a.counts, f) for a in accumulators], np.float64) for f in _FIELDS))


@dataclass
class MOTResult:
    """Per-joint MOTA, MOTP, precision, recall x100 (15,), and their 15-joint means (NaN skipped)."""

    mota: np.ndarray
    motp: np.ndarray
    precision: np.ndarray
    recall: np.ndarray

    @property
    def totals(self) -> dict[str, float]:
        return {name: nanmean(getattr(self, name)) for name in ("mota", "motp", "precision", "recall")}


def mot_metrics(counts: MOTCounts, textbook: bool = False) -> MOTResult:
    """poseval's final metrics from counts summed over sequences.

    As in poseval, a joint without objects has MOTA and recall NaN (not -inf, whatever its false positives), one
    without detections MOTP 0, one without detections and false positives precision NaN.
    """
    c = counts
    det = c.detections
    sum_d = c.sum_d_matched if textbook else c.sum_d_all_events
    objects = np.where(np.asarray(c.objects) > 0, c.objects, np.nan)  # poseval: numObj = NaN when 0
    with np.errstate(divide="ignore", invalid="ignore"):
        mota = 100 * (1.0 - (c.misses + c.switches + c.false_positives) / objects)
        motp = np.where(det == 0, 0.0, 100 * (1.0 - sum_d / np.where(det == 0, 1, det)))
        precision = 100 * (det / (det + c.false_positives))
        recall = 100 * (det / objects)
    return MOTResult(mota, motp, precision, recall)
