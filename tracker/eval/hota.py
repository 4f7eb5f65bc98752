"""Keypoint HOTA (Luiten et al., IJCV 2021) as the official PoseTrack21 evaluation kit applies it to joints.

Every joint type is tracked on its own: in each frame, the ground-truth and predicted people having joint j are
matched one-to-one by the Hungarian algorithm on the similarity ``s = max(0, 1 - d / 0.5001)``, d being the
joint distance over the ground truth's head size (the kit's PCKh-style localisation; ``d`` is inf when either
joint is missing). At a threshold alpha a matched pair is a true positive iff ``s >= alpha``, for the 19 alphas
0.05, 0.10, ..., 0.95; the assignment itself does not depend on alpha. Per joint and alpha:

- DetRe = TP / (TP + FN), DetPr = TP / (TP + FP), DetA = TP / (TP + FN + FP), LocA = mean similarity of the TPs;
- AssA = sum over (GT track g, predicted track p) of M^2 / (G + P - M), divided by TP, where M counts the TPs
  between g and p and G, P the frames in which g, p have the joint (AssRe and AssPr divide by G and P);
- FragA as AssA with M^2 replaced by the sum of squared lengths of the fragments of (g, p): a fragment ends
  when g's next TP goes to another predicted track (frames where g is unmatched do not end one);
- HOTA = sqrt(DetA AssA), RHOTA = sqrt(DetRe AssA), FA-HOTA = sqrt(DetA sqrt(AssA FragA)),
  FA-RHOTA = sqrt(DetRe sqrt(AssA FragA)).

The kit's particulars, reproduced: a labelled frame with ground truth but no predicted person adds the
*sequence's* number of ground-truth joints to FN (not the frame's); a sequence without any predicted person has
FN = all its GT joints, AssA 0 and LocA 1; a sequence's ``Total`` column is the mean of its 15 joints (TP, FN, FP:
the sum); over sequences, TP/FN/FP are summed, the association scores and LocA are TP-weighted and the detection
scores and HOTA are recomputed from those, column by column, ``Total`` included. The reported number of every
metric is its mean over the 19 alphas. A labelled frame without ground-truth people (where the kit crashes)
counts its predicted joints as false positives.

Everything is vectorised over joints and alphas: one ``linear_sum_assignment`` per frame and joint, the rest is
``np.bincount`` over (alpha, joint, track pair) indices.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from pose.data.posetrack.format21 import KIT_JOINT_NAMES, KIT_TO_PT18
from tracker.eval.data import NUM_JOINTS, PT18_TO_EVAL, EvalFrame

ALPHAS = np.arange(0.05, 0.99, 0.05)  # the 19 HOTA thresholds (Luiten et al. 2021), as the kit builds them
SIM_DISTANCE = 0.5001  # the kit: similarity 1 - d / 0.5001 (zero from half a head size on)
ALPHA_TOLERANCE = np.finfo(np.float64).eps  # the kit compares s >= alpha - eps
COLUMNS = KIT_JOINT_NAMES + ("Total",)
COUNT_FIELDS = ("HOTA_TP", "HOTA_FN", "HOTA_FP")
ASSOC_FIELDS = ("AssA", "AssRe", "AssPr", "FragA")
FLOAT_FIELDS = ("HOTA", "DetA", "AssA", "FragA", "DetRe", "DetPr", "AssRe", "AssPr", "LocA", "RHOTA", "FA-HOTA",
                "FA-RHOTA")
# Column k of the kit's table is column KIT_FROM_EVAL[k] of the poseval-ordered EvalFrame arrays.
KIT_FROM_EVAL = np.array([int(np.flatnonzero(PT18_TO_EVAL == i)[0]) for i in KIT_TO_PT18])


@dataclass(frozen=True)
class HotaResult:
    """Per-alpha values, each (19, 16) over ``COLUMNS``: every name of FLOAT_FIELDS and COUNT_FIELDS.

    ``total_is_mean``: the ``Total`` column is the mean over the joints (one sequence), not recomputed from pooled
    values (over sequences); it decides the ``Total`` of derived fields such as ``HOTALocA(0)``.
    """

    per_alpha: dict
    total_is_mean: bool = False

    @property
    def alpha_mean(self) -> dict:
        """The reported numbers: the mean of each field over the 19 alphas, (16,) per field."""
        return {name: values.mean(axis=0) for name, values in self.per_alpha.items()}

    def at_first_alpha(self) -> dict:
        """``HOTA(0)``, ``LocA(0)``, ``HOTALocA(0)``, ``HOTA_TP(0)``... : the values at alpha = 0.05, (16,) each."""
        out = {f"{name}(0)": self.per_alpha[name][0] for name in ("HOTA", "LocA") + COUNT_FIELDS}
        out["HOTALocA(0)"] = out["HOTA(0)"] * out["LocA(0)"]
        if self.total_is_mean:
            out["HOTALocA(0)"][-1] = out["HOTALocA(0)"][:-1].mean()
        return out


def _detection_scores(res: dict) -> None:
    """DetRe, DetPr, DetA, HOTA, RHOTA, FA-HOTA, FA-RHOTA from the counts and association scores, in place."""
    tp, fn, fp = res["HOTA_TP"], res["HOTA_FN"], res["HOTA_FP"]
    res["DetRe"] = tp / np.maximum(1.0, tp + fn)
    res["DetPr"] = tp / np.maximum(1.0, tp + fp)
    res["DetA"] = tp / np.maximum(1.0, tp + fn + fp)
    res["HOTA"] = np.sqrt(res["DetA"] * res["AssA"])
    res["RHOTA"] = np.sqrt(res["DetRe"] * res["AssA"])
    frag = np.sqrt(res["AssA"] * res["FragA"])
    res["FA-HOTA"] = np.sqrt(res["DetA"] * frag)
    res["FA-RHOTA"] = np.sqrt(res["DetRe"] * frag)


def _with_total(res: dict) -> HotaResult:
    """Reorder (19, 15) joint columns into the kit's order and append ``Total`` (mean; sum for counts)."""
    out = {}
    for name, values in res.items():
        values = values[:, KIT_FROM_EVAL]
        total = values.sum(axis=1) if name in COUNT_FIELDS else values.mean(axis=1)
        out[name] = np.concatenate([values, total[:, None]], axis=1)
    return HotaResult(out, total_is_mean=True)


def _relabel(ids_per_frame: list[np.ndarray]) -> tuple[list[np.ndarray], int]:
    """Track ids -> 0..n-1 over the sequence."""
    all_ids = np.concatenate(ids_per_frame) if ids_per_frame else np.zeros(0, np.int64)
    unique, inverse = np.unique(all_ids, return_inverse=True)
    splits = np.cumsum([len(ids) for ids in ids_per_frame])[:-1]
    return np.split(inverse.reshape(-1), splits), len(unique)


def sequence_hota(frames: list[EvalFrame], dists: list[np.ndarray]) -> HotaResult:
    """Keypoint HOTA of one sequence from its evaluated frames and their (P, G, 15) normalised distances."""
    shape = (len(ALPHAS), NUM_JOINTS)
    gt_joints = sum((f.gt_has.sum(axis=0) for f in frames), np.zeros(NUM_JOINTS))
    if sum(len(f.pr_ids) for f in frames) == 0:  # no predicted person at all: the kit's early exit
        res = {name: np.zeros(shape) for name in FLOAT_FIELDS + COUNT_FIELDS}
        res["HOTA_FN"] = np.broadcast_to(gt_joints, shape).copy()
        res["LocA"] = np.ones(shape)
        return _with_total(res)
    gt_tracks, n_gt_tracks = _relabel([f.gt_ids for f in frames])
    pr_tracks, n_pr_tracks = _relabel([f.pr_ids for f in frames])
    gt_frames_of = np.zeros((n_gt_tracks, NUM_JOINTS))  # G: frames in which each GT track has each joint
    pr_frames_of = np.zeros((n_pr_tracks, NUM_JOINTS))  # P: the same for predicted tracks
    fn_base, fp_base = np.zeros(NUM_JOINTS), np.zeros(NUM_JOINTS)  # joints of the frames, before subtracting TPs
    matches = []  # (joint, gt track, predicted track, frame, similarity) arrays per frame
    for t, (frame, dist, g_idx, p_idx) in enumerate(zip(frames, dists, gt_tracks, pr_tracks)):
        gt_frames_of[g_idx] += frame.gt_has
        pr_frames_of[p_idx] += frame.pr_has
        if len(g_idx) and not len(p_idx):
            fn_base += gt_joints  # the kit's quirk: the sequence's GT joints, not the frame's
            continue
        fn_base += frame.gt_has.sum(axis=0)
        fp_base += frame.pr_has.sum(axis=0)
        if len(g_idx) and len(p_idx):
            rows, cols, joints, sims = match_frame(dist)
            matches.append((joints, g_idx[cols], p_idx[rows], np.full(len(rows), t), sims))
    if matches:
        joint, gt, pr, when, sim = (np.concatenate(c) for c in zip(*matches))
    else:
        joint = gt = pr = when = np.zeros(0, np.int64)
        sim = np.zeros(0)
    return _with_total(_scores(joint, gt, pr, when, sim, gt_frames_of, pr_frames_of, fn_base, fp_base))


def match_frame(dist: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The kit's per-joint assignment of one frame: (prediction, GT, joint, similarity) of every matched pair
    with positive similarity, from the (P, G, 15) normalised distances.

    Joints where no prediction and no GT person has two positive similarities need no Hungarian step (every
    positive pair belongs to the maximum assignment); the others go through ``linear_sum_assignment``.
    """
    with np.errstate(invalid="ignore"):
        sim = np.where(dist < SIM_DISTANCE, 1.0 - dist / SIM_DISTANCE, 0.0)  # inf / NaN distance -> 0
    positive = sim > 0
    ambiguous = (positive.sum(axis=0).max(axis=0) > 1) | (positive.sum(axis=1).max(axis=0) > 1)  # (15,)
    rows, cols, joints = np.nonzero(positive & ~ambiguous)
    parts = [(rows, cols, joints)]
    for j in np.flatnonzero(ambiguous):
        s = sim[:, :, j]
        r, c = linear_sum_assignment(s, maximize=True)  # rows: predictions, columns: GT people
        keep = s[r, c] > 0
        parts.append((r[keep], c[keep], np.full(int(keep.sum()), j)))
    rows, cols, joints = (np.concatenate(p) for p in zip(*parts))
    return rows, cols, joints, sim[rows, cols, joints]


def _scores(joint, gt, pr, when, sim, gt_frames_of, pr_frames_of, fn_base, fp_base) -> dict:
    """All per-alpha, per-joint fields (19, 15) from the matched pairs of a sequence (N,) each."""
    n_alpha = len(ALPHAS)
    tp_mask = sim[None, :] >= ALPHAS[:, None] - ALPHA_TOLERANCE  # (19, N)
    alpha_joint = np.arange(n_alpha)[:, None] * NUM_JOINTS + joint[None, :]  # (19, N)
    cells = n_alpha * NUM_JOINTS

    def per_cell(weights: np.ndarray) -> np.ndarray:
        return np.bincount(alpha_joint.ravel(), weights.ravel(), cells).reshape(n_alpha, NUM_JOINTS)

    tp = per_cell(tp_mask.astype(np.float64))
    loc_sum = per_cell(tp_mask * sim[None, :])
    # Track pairs that ever match: M (19, 15, pairs), and G + P - M of each.
    pair_key = gt * len(pr_frames_of) + pr
    pairs, pair_of = np.unique(pair_key, return_inverse=True)
    pair_of = pair_of.reshape(-1)
    pair_gt, pair_pr = pairs // max(1, len(pr_frames_of)), pairs % max(1, len(pr_frames_of))
    n_pairs = len(pairs)
    cell_pair = (alpha_joint * n_pairs + pair_of[None, :]).ravel()
    size = cells * n_pairs
    m = np.bincount(cell_pair, tp_mask.ravel().astype(np.float64), size).reshape(n_alpha, NUM_JOINTS, n_pairs)
    g = gt_frames_of[pair_gt].T[None]  # (1, 15, pairs)
    p = pr_frames_of[pair_pr].T[None]
    union = np.maximum(1.0, g + p - m)
    frag_sq = np.bincount(*_fragments(tp_mask, alpha_joint, joint, gt, pr, when, pair_of, n_pairs), size)
    frag_sq = frag_sq.reshape(m.shape)
    tp_div = np.maximum(1.0, tp)
    res = {
        "HOTA_TP": tp,
        "HOTA_FN": fn_base[None] - tp,
        "HOTA_FP": fp_base[None] - tp,
        "AssA": (m ** 2 / union).sum(axis=2) / tp_div,
        "AssRe": (m ** 2 / np.maximum(1.0, g)).sum(axis=2) / tp_div,
        "AssPr": (m ** 2 / np.maximum(1.0, p)).sum(axis=2) / tp_div,
        "FragA": (frag_sq / union).sum(axis=2) / tp_div,
        "LocA": np.maximum(1e-10, loc_sum) / np.maximum(1e-10, tp),
    }
    _detection_scores(res)
    return res


def _fragments(tp_mask, alpha_joint, joint, gt, pr, when, pair_of, n_pairs) -> tuple[np.ndarray, np.ndarray]:
    """(cell-pair index, squared length) of every fragment: runs of one GT track's TPs, in frame order, that go
    to the same predicted track, per alpha and joint."""
    order = np.lexsort((when, gt, joint))  # by joint, then GT track, then frame
    mask = tp_mask[:, order]  # (19, N), each row in (joint, track, frame) order
    a_idx, n_idx = np.nonzero(mask)  # alpha-major, so the order within each alpha is kept
    cell = alpha_joint[a_idx, order[n_idx]]
    g, p = gt[order[n_idx]], pr[order[n_idx]]
    start = np.ones(len(cell), bool)
    start[1:] = (cell[1:] != cell[:-1]) | (g[1:] != g[:-1]) | (p[1:] != p[:-1])
    run = np.cumsum(start) - 1
    length = np.bincount(run).astype(np.float64)
    first = np.flatnonzero(start)
    return cell[first] * n_pairs + pair_of[order[n_idx[first]]], length ** 2


def combine(results: list[HotaResult]) -> HotaResult:
    """The kit's result over sequences, column by column (``Total`` included): counts summed, association
    scores and LocA weighted by TP, detection scores and the HOTA family recomputed."""
    shape = (len(ALPHAS), len(COLUMNS))
    if not results:
        return HotaResult({name: np.zeros(shape) for name in FLOAT_FIELDS + COUNT_FIELDS})
    res = {name: sum(r.per_alpha[name] for r in results) for name in COUNT_FIELDS}
    tp = res["HOTA_TP"]
    for name in ASSOC_FIELDS:
        res[name] = sum(r.per_alpha[name] * r.per_alpha["HOTA_TP"] for r in results) / np.maximum(1.0, tp)
    loc = sum(r.per_alpha["LocA"] * r.per_alpha["HOTA_TP"] for r in results)
    res["LocA"] = np.maximum(1e-10, loc) / np.maximum(1e-10, tp)
    _detection_scores(res)
    return HotaResult(res)


def counts(frames: list[EvalFrame]) -> dict:
    """The kit's Count metric: people and distinct track ids in the evaluated frames (after ignore regions)."""
    pr = [f.pr_ids for f in frames] or [np.zeros(0)]
    gt = [f.gt_ids for f in frames] or [np.zeros(0)]
    return {"Dets": int(sum(map(len, pr))), "GT_Dets": int(sum(map(len, gt))),
            "IDs": len(np.unique(np.concatenate(pr))), "GT_IDs": len(np.unique(np.concatenate(gt))),
            "Frames": len(frames)}
