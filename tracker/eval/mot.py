"""Per-joint CLEAR-MOT tracking metrics (MOTA, MOTP, precision, recall) as PoseTrack's poseval computes them.

poseval runs one ``motmetrics.MOTAccumulator`` per joint per sequence: objects are the GT people having that
joint, hypotheses the predicted people having it, and a pair can match when its PCKh-normalised distance is
<= 0.5. ``Accumulator`` is a lean re-implementation of motmetrics 1.4's ``MOTAccumulator.update`` (same
carry-over of previous matches, same Hungarian step through ``scipy.optimize.linear_sum_assignment`` on the same
cost matrix, same event types) that keeps only the counts the metrics need instead of a pandas event table and
advances the 15 joints together with array operations; tests check it against motmetrics itself.

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

from dataclasses import dataclass

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


class Accumulator:
    """motmetrics 1.4 ``MOTAccumulator(auto_id=True)`` for J joints of one sequence at once, counting instead of
    logging (poseval runs one accumulator per joint; the joints share nothing, so they advance together here).

    State per joint, as in motmetrics: ``pairing`` (object -> its current hypothesis), ``hyp_pairing`` (hypothesis
    -> the object it last matched in the assignment step), which objects have ever been matched and which
    hypotheses have ever been used (these decide MIGRATE and ASCEND events, whose distances enter poseval's MOTP).
    Ids of any integer value are mapped to dense indices; state arrays are (J, number of ids seen).

    Per frame (``update``): motmetrics' step 1, carrying forward previous pairings that are still pairable, is done
    for all joints with array operations (objects in frame order, the first one taking a hypothesis two of them
    point at, as motmetrics' loop does); step 2, the Hungarian assignment of the rest (scipy's
    ``linear_sum_assignment`` on the matrix motmetrics hands it), runs only for the joints that still have a
    pairable pair, which after the first frames of a track is rare. Hypothesis ids are unique within a frame (the
    evaluator checks predictions).
    """

    def __init__(self, num_joints: int = NUM_JOINTS):
        self.num_joints = num_joints
        self.counts = MOTCounts(*(np.zeros(num_joints) for _ in _FIELDS))
        self._object_index: dict = {}
        self._hyp_index: dict = {}
        self.pairing = np.full((num_joints, 0), -1, np.int64)  # (J, objects) dense hypothesis index or -1
        self.hyp_pairing = np.full((num_joints, 0), -1, np.int64)  # (J, hypotheses) dense object index or -1
        self.matched_objects = np.zeros((num_joints, 0), bool)
        self.seen_hypotheses = np.zeros((num_joints, 0), bool)

    def _dense(self, ids, index: dict, kind: str) -> np.ndarray:
        dense = np.array([index.setdefault(i, len(index)) for i in np.asarray(ids).tolist()], np.int64)
        grow = len(index) - (self.pairing.shape[1] if kind == "object" else self.hyp_pairing.shape[1])
        if grow > 0:
            pad = ((0, 0), (0, max(grow, len(index))))  # amortised doubling
            if kind == "object":
                self.pairing = np.pad(self.pairing, pad, constant_values=-1)
                self.matched_objects = np.pad(self.matched_objects, pad)
            else:
                self.hyp_pairing = np.pad(self.hyp_pairing, pad, constant_values=-1)
                self.seen_hypotheses = np.pad(self.seen_hypotheses, pad)
        return dense

    def dummy_frame(self) -> None:
        """poseval's empty frame: one object and one hypothesis that cannot pair, per joint (a miss and an FP)."""
        c = self.counts
        c.objects += 1
        c.misses += 1
        c.false_positives += 1

    def update(self, oids, hids, obj_has: np.ndarray, hyp_has: np.ndarray, dists: np.ndarray) -> None:
        """One frame. oids (G,), hids (P,): ids; obj_has (J, G), hyp_has (J, P): which objects / hypotheses take
        part for each joint; dists (J, G, P) with NaN for cannot-pair (pairs outside ``*_has`` are ignored)."""
        c = self.counts
        oi = self._dense(oids, self._object_index, "object")
        hi = self._dense(hids, self._hyp_index, "hypothesis")
        obj_has, hyp_has = np.asarray(obj_has, bool), np.asarray(hyp_has, bool)
        num_j, num_g, num_p = len(obj_has), len(oi), len(hi)
        dists = np.where(obj_has[:, :, None] & hyp_has[:, None, :], dists, np.nan)
        finite = np.isfinite(dists)
        c.sum_d_all_events += np.sum(dists, axis=(1, 2), where=finite)  # RAW events
        c.objects += obj_has.sum(axis=1)
        o_done = np.zeros((num_j, num_g), bool)
        h_done = np.zeros((num_j, num_p), bool)
        if num_g and num_p:
            # 1. Carry forward previous pairings that are still pairable (all joints at once).
            column_of = np.full(self.hyp_pairing.shape[1] + 1, -1, np.int64)  # dense hypothesis -> column, -1 at end
            column_of[hi] = np.arange(num_p)
            column = column_of[self.pairing[:, oi]]  # (J, G); a -1 pairing reads the trailing -1
            jj, gg = np.nonzero(obj_has & (column >= 0))
            cc = column[jj, gg]
            keep = finite[jj, gg, cc]
            jj, gg, cc = jj[keep], gg[keep], cc[keep]
            _, first = np.unique(jj * num_p + cc, return_index=True)  # the first object claiming a hypothesis
            jj, gg, cc = jj[first], gg[first], cc[first]
            o_done[jj, gg] = True
            h_done[jj, cc] = True
            d = dists[jj, gg, cc]
            np.add.at(c.matches, jj, 1)
            np.add.at(c.sum_d_all_events, jj, d)
            np.add.at(c.sum_d_matched, jj, d)
            self.matched_objects[jj, oi[gg]] = True
            self.seen_hypotheses[jj, hi[cc]] = True
            # 2. Hungarian on the rest, for the joints that still have a pairable pair.
            rest = finite & ~o_done[:, :, None] & ~h_done[:, None, :]
            for j in np.flatnonzero(rest.any(axis=(1, 2))).tolist():
                self._assign(j, oi, hi, dists[j], o_done[j], h_done[j])
        # 3./4. Unpaired objects are misses, unpaired hypotheses false positives.
        c.misses += obj_has.sum(axis=1) - o_done.sum(axis=1)
        c.false_positives += hyp_has.sum(axis=1) - h_done.sum(axis=1)

    def _assign(self, j: int, oi: np.ndarray, hi: np.ndarray, dists: np.ndarray, o_done: np.ndarray,
                h_done: np.ndarray) -> None:
        """motmetrics' step 2 for joint ``j``: Hungarian on the pairs not carried forward, with its event types."""
        c = self.counts
        dists = dists.copy()
        dists[o_done, :] = np.nan
        dists[:, h_done] = np.nan
        finite = np.isfinite(dists)
        if finite.sum(axis=0).max() <= 1 and finite.sum(axis=1).max() <= 1:
            # The pairable pairs share no object and no hypothesis: every optimal assignment of the matrix
            # motmetrics builds (cannot-pair entries dearer than all pairable ones together) takes them all.
            rows, cols = np.nonzero(finite)
        else:
            rows, cols = linear_sum_assignment(_expensive_edges(dists))
        pairing, hyp_pairing = self.pairing[j], self.hyp_pairing[j]
        for r, k in zip(rows.tolist(), cols.tolist()):
            d = dists[r, k]
            if not np.isfinite(d):
                continue
            d = float(d)
            o, h = oi[r], hi[k]
            switch = pairing[o] >= 0 and pairing[o] != h
            if switch and not self.seen_hypotheses[j, h]:
                c.sum_d_all_events[j] += d  # ASCEND event
            if hyp_pairing[h] >= 0 and hyp_pairing[h] != o:  # TRANSFER event
                if not self.matched_objects[j, o]:
                    c.sum_d_all_events[j] += d  # MIGRATE event
                c.sum_d_all_events[j] += d
            self.seen_hypotheses[j, h] = True
            self.matched_objects[j, o] = True
            if switch:
                c.switches[j] += 1
            else:
                c.matches[j] += 1
            c.sum_d_all_events[j] += d
            c.sum_d_matched[j] += d
            o_done[r] = h_done[k] = True
            pairing[o] = h
            hyp_pairing[h] = o

    def update_pairs(self, oids, hids, dists) -> None:
        """One frame of a single-joint accumulator in motmetrics' own terms: ids (N,), (M,), distances (N, M)."""
        dists = np.asarray(dists, np.float64).reshape(1, len(oids), len(hids))
        self.update(oids, hids, np.ones((1, len(oids)), bool), np.ones((1, len(hids)), bool), dists)


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
    accumulator = Accumulator(NUM_JOINTS)
    for frame, dist in zip(frames, dists):
        if not textbook and (len(frame.gt_ids) == 0 or len(frame.pr_ids) == 0):
            accumulator.dummy_frame()
            continue
        with np.errstate(invalid="ignore"):
            pairable = np.where(dist <= DIST_THRESHOLD, dist, np.nan).transpose(2, 1, 0)  # (15, G, P)
        accumulator.update(frame.gt_ids, frame.pr_ids, frame.gt_has.T, frame.pr_has.T, pairable)
    return accumulator.counts


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
