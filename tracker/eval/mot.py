"""Per-joint CLEAR-MOT tracking metrics (MOTA, MOTP, precision, recall) as PoseTrack's poseval computes them.

poseval runs one ``motmetrics.MOTAccumulator`` per joint per sequence: objects are the GT people having that
joint, hypotheses the predicted people having it, and a pair can match when its PCKh-normalised distance is
<= 0.5. ``Accumulator`` is a lean re-implementation of motmetrics 1.4's ``MOTAccumulator.update`` (same
carry-over of previous matches, same Hungarian step through ``scipy.optimize.linear_sum_assignment`` on the same
cost matrix, same event types) that keeps only the counts the metrics need instead of a pandas event table and
advances many accumulators together with array operations (``sequences_counts``: the 15 joints of every sequence,
frame t of all sequences in one update); tests check it against motmetrics itself.

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
    """motmetrics 1.4 ``MOTAccumulator(auto_id=True)`` for J rows at once (J joints of a sequence, or the joints of
    many sequences), counting instead of logging (poseval runs one accumulator per joint per sequence; they share
    nothing, so they advance together here).

    State per row, as in motmetrics: ``pairing`` (object -> its current hypothesis), ``hyp_pairing`` (hypothesis
    -> the object it last matched in the assignment step), which objects have ever been matched and which
    hypotheses have ever been used (these decide MIGRATE and ASCEND events, whose distances enter poseval's MOTP).
    Ids are dense indices (``update`` maps ids of any integer value); state arrays are (J, number of ids).

    Per frame (``update``, or ``update_rows`` with each row's own dense ids): motmetrics' step 1, carrying forward
    previous pairings that are still pairable, is done for all rows with array operations (objects in frame order,
    the first one taking a hypothesis two of them point at, as motmetrics' loop does); step 2, the Hungarian
    assignment of the rest (scipy's ``linear_sum_assignment`` on the matrix motmetrics hands it), runs only for the
    rows whose remaining pairable pairs share an object or a hypothesis (otherwise it would take them all).
    Hypothesis ids are unique within a frame (the evaluator checks predictions).
    """

    def __init__(self, num_joints: int = NUM_JOINTS, num_objects: int = 0, num_hypotheses: int = 0):
        self.num_joints = num_joints
        self.counts = MOTCounts(*(np.zeros(num_joints) for _ in _FIELDS))
        self._object_index: dict = {}
        self._hyp_index: dict = {}
        self.pairing = np.full((num_joints, num_objects), -1, np.int64)  # (J, objects) dense hypothesis index or -1
        self.hyp_pairing = np.full((num_joints, num_hypotheses), -1, np.int64)  # (J, hyps) dense object index or -1
        self.matched_objects = np.zeros((num_joints, num_objects), bool)
        self.seen_hypotheses = np.zeros((num_joints, num_hypotheses), bool)

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

    def update(self, oids, hids, obj_has: np.ndarray, hyp_has: np.ndarray, dists: np.ndarray) -> None:
        """One frame. oids (G,), hids (P,): ids; obj_has (J, G), hyp_has (J, P): which objects / hypotheses take
        part for each joint; dists (J, G, P) with NaN for cannot-pair (pairs outside ``*_has`` are ignored)."""
        oi = self._dense(oids, self._object_index, "object")
        hi = self._dense(hids, self._hyp_index, "hypothesis")
        obj_has, hyp_has = np.asarray(obj_has, bool), np.asarray(hyp_has, bool)
        self.update_rows(np.arange(self.num_joints), np.broadcast_to(oi, obj_has.shape),
                         np.broadcast_to(hi, hyp_has.shape), obj_has, hyp_has, dists)

    def update_rows(self, rows: np.ndarray, oi: np.ndarray, hi: np.ndarray, obj_has: np.ndarray,
                    hyp_has: np.ndarray, dists: np.ndarray) -> None:
        """One frame of some rows of the state, each with its own dense ids: rows (R,); oi (R, G), hi (R, P) dense
        object / hypothesis indices (any valid index where ``obj_has`` / ``hyp_has`` is False: padding); dists
        (R, G, P) with NaN for cannot-pair."""
        c = self.counts
        num_r, num_g, num_p = len(rows), obj_has.shape[1], hyp_has.shape[1]
        dists = np.where(obj_has[:, :, None] & hyp_has[:, None, :], dists, np.nan)
        finite = np.isfinite(dists)
        c.sum_d_all_events[rows] += np.sum(dists, axis=(1, 2), where=finite)  # RAW events
        c.objects[rows] += obj_has.sum(axis=1)
        o_done = np.zeros((num_r, num_g), bool)
        h_done = np.zeros((num_r, num_p), bool)
        if num_g and num_p:
            # 1. Carry forward previous pairings that are still pairable (all rows at once).
            column_of = np.full((num_r, self.hyp_pairing.shape[1] + 1), -1, np.int64)  # -1 in the trailing slot
            rr, pp = np.nonzero(hyp_has)
            column_of[rr, hi[rr, pp]] = pp  # dense hypothesis -> its column in this frame
            column = np.take_along_axis(column_of, self.pairing[rows[:, None], oi], axis=1)  # (R, G); -1 pairing: -1
            jj, gg = np.nonzero(obj_has & (column >= 0))
            cc = column[jj, gg]
            keep = finite[jj, gg, cc]
            jj, gg, cc = jj[keep], gg[keep], cc[keep]
            _, first = np.unique(jj * num_p + cc, return_index=True)  # the first object claiming a hypothesis
            jj, gg, cc = jj[first], gg[first], cc[first]
            o_done[jj, gg] = True
            h_done[jj, cc] = True
            d = dists[jj, gg, cc]
            row = rows[jj]
            np.add.at(c.matches, row, 1)
            np.add.at(c.sum_d_all_events, row, d)
            np.add.at(c.sum_d_matched, row, d)
            self.matched_objects[row, oi[jj, gg]] = True
            self.seen_hypotheses[row, hi[jj, cc]] = True
            # 2. The pairable pairs not carried forward: Hungarian, for the rows that have any.
            rest = finite & ~o_done[:, :, None] & ~h_done[:, None, :]
            need = np.flatnonzero(rest.any(axis=(1, 2)))
            # Where they share no object and no hypothesis, every optimal assignment of the matrix motmetrics builds
            # (cannot-pair entries dearer than all pairable ones together) takes them all: no solver needed.
            sub = rest[need]
            unshared = (sub.sum(axis=1).max(axis=1, initial=0) <= 1) & (sub.sum(axis=2).max(axis=1, initial=0) <= 1)
            kk, gg, pp = np.nonzero(sub[unshared])
            r = need[unshared][kk]
            self._record(rows[r], oi[r, gg], hi[r, pp], dists[r, gg, pp])
            o_done[r, gg] = True
            h_done[r, pp] = True
            for r in need[~unshared].tolist():
                self._assign(int(rows[r]), oi[r], hi[r], dists[r], o_done[r], h_done[r])
        # 3./4. Unpaired objects are misses, unpaired hypotheses false positives.
        c.misses[rows] += obj_has.sum(axis=1) - o_done.sum(axis=1)
        c.false_positives[rows] += hyp_has.sum(axis=1) - h_done.sum(axis=1)

    def _assign(self, j: int, oi: np.ndarray, hi: np.ndarray, dists: np.ndarray, o_done: np.ndarray,
                h_done: np.ndarray) -> None:
        """motmetrics' step 2 for row ``j``: Hungarian on the pairs not carried forward."""
        dists = dists.copy()
        dists[o_done, :] = np.nan
        dists[:, h_done] = np.nan
        rows, cols = linear_sum_assignment(_expensive_edges(dists))
        paired = np.isfinite(dists[rows, cols])
        rows, cols = rows[paired], cols[paired]
        self._record(np.full(len(rows), j), oi[rows], hi[cols], dists[rows, cols])
        o_done[rows] = True
        h_done[cols] = True

    def _record(self, row: np.ndarray, o: np.ndarray, h: np.ndarray, d: np.ndarray) -> None:
        """The events of new pairs (state row, dense object, dense hypothesis, distance), sorted by row, no two of a
        row sharing an object or a hypothesis: MATCH or SWITCH, and motmetrics' ASCEND, TRANSFER and MIGRATE events,
        whose distances enter poseval's sum (added per row in motmetrics' order: pair by pair, event by event)."""
        c = self.counts
        previous = self.pairing[row, o]
        switch = (previous >= 0) & (previous != h)
        ascend = switch & ~self.seen_hypotheses[row, h]
        last_object = self.hyp_pairing[row, h]
        transfer = (last_object >= 0) & (last_object != o)
        migrate = transfer & ~self.matched_objects[row, o]
        starts = np.flatnonzero(np.diff(row, prepend=-1))  # first pair of each row
        rank = np.arange(len(row)) - np.repeat(starts, np.diff(np.append(starts, len(row))))
        for k in range(int(rank.max(initial=-1)) + 1):  # the k-th pair of every row: one pair per row at a time
            at = rank == k
            r, dk = row[at], d[at]
            for event in (ascend[at], migrate[at], transfer[at]):
                c.sum_d_all_events[r[event]] += dk[event]
            c.sum_d_all_events[r] += dk
            c.sum_d_matched[r] += dk
        np.add.at(c.switches, row, switch)
        np.add.at(c.matches, row, ~switch)
        self.seen_hypotheses[row, h] = True
        self.matched_objects[row, o] = True
        self.pairing[row, o] = h
        self.hyp_pairing[row, h] = o

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
    return sequences_counts([(frames, dists)], textbook)[0]


@dataclass(frozen=True)
class _TrackedSequence:
    """The frames of a sequence that update its accumulators, the dense ids of their objects / hypotheses (one
    array per frame) and how many of each there are, and the number of poseval's empty frames (one dummy miss and
    false positive per joint each, which change no pairing)."""

    frames: list
    objects: list
    hypotheses: list
    num_objects: int
    num_hypotheses: int
    empty_frames: int


def _tracked_sequence(frames: list[EvalFrame], dists: list[np.ndarray], textbook: bool) -> _TrackedSequence:
    if not textbook:
        frames, dists = frames[:-1], dists[:-1]  # poseval: imgidxs[:-1]
    tracked = [(f, d) for f, d in zip(frames, dists) if textbook or (len(f.gt_ids) and len(f.pr_ids))]
    dense, sizes = [], []
    for ids in ([f.gt_ids for f, _ in tracked], [f.pr_ids for f, _ in tracked]):
        flat = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        unique, inverse = np.unique(flat, return_inverse=True)  # any dense numbering: ids are only compared
        dense.append(np.split(inverse.reshape(-1), np.cumsum([len(i) for i in ids])[:-1]) if ids else [])
        sizes.append(len(unique))
    return _TrackedSequence(tracked, dense[0], dense[1], sizes[0], sizes[1], len(frames) - len(tracked))


_STEP_CELLS = 1 << 16  # sequences x G x P updated at once in sequences_counts (x 15 joints): bounds its memory


def _update_step(acc: Accumulator, seqs: list[_TrackedSequence], group: list[int], t: int) -> None:
    """Frame t of the sequences ``group``, people padded to the largest frame, in one ``update_rows``."""
    num_g = max(len(seqs[s].frames[t][0].gt_ids) for s in group)
    num_p = max(len(seqs[s].frames[t][0].pr_ids) for s in group)
    shape = (len(group), NUM_JOINTS)
    oi, hi = np.zeros(shape + (num_g,), np.int64), np.zeros(shape + (num_p,), np.int64)
    obj_has, hyp_has = np.zeros(shape + (num_g,), bool), np.zeros(shape + (num_p,), bool)
    pairable = np.full(shape + (num_g, num_p), np.nan)
    for a, s in enumerate(group):
        frame, dist = seqs[s].frames[t]
        g, p = len(frame.gt_ids), len(frame.pr_ids)
        oi[a, :, :g] = seqs[s].objects[t]
        hi[a, :, :p] = seqs[s].hypotheses[t]
        obj_has[a, :, :g] = frame.gt_has.T
        hyp_has[a, :, :p] = frame.pr_has.T
        with np.errstate(invalid="ignore"):
            pairable[a, :, :g, :p] = np.where(dist <= DIST_THRESHOLD, dist, np.nan).transpose(2, 1, 0)
    rows = (np.asarray(group)[:, None] * NUM_JOINTS + np.arange(NUM_JOINTS)).reshape(-1)
    n = len(rows)
    acc.update_rows(rows, oi.reshape(n, num_g), hi.reshape(n, num_p), obj_has.reshape(n, num_g),
                    hyp_has.reshape(n, num_p), pairable.reshape(n, num_g, num_p))


def sequences_counts(sequences: list[tuple], textbook: bool = False) -> list[MOTCounts]:
    """``sequence_counts`` of many (frames, dists) sequences. Their accumulators are independent: one
    ``Accumulator`` holds them all (one row per sequence and joint) and advances frame t of every sequence together
    (in groups bounded by ``_STEP_CELLS``)."""
    seqs = [_tracked_sequence(frames, dists, textbook) for frames, dists in sequences]
    acc = Accumulator(len(seqs) * NUM_JOINTS, max((s.num_objects for s in seqs), default=0),
                      max((s.num_hypotheses for s in seqs), default=0))
    for t in range(max((len(s.frames) for s in seqs), default=0)):
        group, most_g, most_p = [], 1, 1
        for s in (s for s, seq in enumerate(seqs) if t < len(seq.frames)):
            frame = seqs[s].frames[t][0]
            g, p = max(most_g, len(frame.gt_ids)), max(most_p, len(frame.pr_ids))
            if group and (len(group) + 1) * g * p > _STEP_CELLS:
                _update_step(acc, seqs, group, t)
                group, g, p = [], max(1, len(frame.gt_ids)), max(1, len(frame.pr_ids))
            group.append(s)
            most_g, most_p = g, p
        if group:
            _update_step(acc, seqs, group, t)
    counts = []
    for s, seq in enumerate(seqs):
        rows = slice(s * NUM_JOINTS, (s + 1) * NUM_JOINTS)
        c = MOTCounts(*(getattr(acc.counts, f)[rows].copy() for f in _FIELDS))
        c.objects += seq.empty_frames
        c.misses += seq.empty_frames
        c.false_positives += seq.empty_frames
        counts.append(c)
    return counts


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
