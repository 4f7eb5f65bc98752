"""PoseTrack ground truth and predictions as the arrays the evaluator works on.

The official evaluator (poseval) turns every file into the PoseTrack 2017 ``annolist`` layout and then cleans the
frames up before it measures anything. This module does the same on arrays:

1. Joints are mapped by name to poseval's 15 ids (``pose.keypoints.POSETRACK17`` order; the ears are dropped).
   In a 2018 file a joint is absent only when ``x == 0 and y == 0 and v == 0`` (poseval's convert.py drops
   exactly those); a joint with ``v == 0`` elsewhere counts. A 2017 file is read as it is: every listed point
   counts, even one at ``0, 0`` with ``is_visible`` 0 (``PersonAnnotation.present`` says which).
   A predicted joint without a score gets ``MIN_SCORE`` (-9999), also when other joints of the person have one.
2. Ground-truth frames without any person are removed, together with the prediction frame at the same index
   (frames are aligned by position, not by name). Only then are people without a point list dropped (2017
   persons without ``annopoints[0].point``; every 2018 person has one): a GT frame whose people all lack it
   stays, as an empty frame.
3. In frames with ignore regions, every joint strictly inside a region is removed, and a person left without
   joints is removed (in frames without ignore regions, people without joints stay: they make a frame non-empty).

The results are ``EvalFrame`` objects, one per remaining frame; ``normalized_distances`` gives the PCKh-normalised
joint distances that both the AP and the MOT side use.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose.keypoints import POSETRACK17, POSETRACK18, joint_mapping

NUM_JOINTS = 15
# poseval's joint names (its ``Joint().name``), in its id order; head_bottom is called "neck" there.
JOINT_NAMES = tuple("neck" if name == "head_bottom" else name for name in POSETRACK17.joints)
# For each of the 15 poseval ids, the index of that joint in a PoseTrack 2018 (17-joint) keypoint array.
PT18_TO_EVAL = joint_mapping(POSETRACK18, POSETRACK17)

HEAD_SIZE_FACTOR = 0.6  # poseval getHeadSize: 0.6 x head-box diagonal
MAX_TRACK_ID = 10000  # poseval asserts track_id < MAX_TRACK_ID (it offsets ids by file index x 10000)
MIN_SCORE = -9999.0  # poseval's score for a predicted joint without one


class EvaluationError(ValueError):
    """Input the official evaluator would crash on or silently mis-evaluate (names the file and frame)."""


@dataclass
class EvalFrame:
    """One frame after poseval's cleanup. G ground-truth people, P predicted people, 15 poseval joints.

    gt_xy (G, 15, 2), gt_has (G, 15) bool, gt_ids (G,) int, gt_head_size (G,) (NaN without a head box,
    which only frames without predictions may have);
    pr_xy (P, 15, 2), pr_has (P, 15) bool, pr_scores (P, 15) (MIN_SCORE where the file gives none),
    pr_ids (P,) int. ``where`` names the file and frame for error messages.
    """

    gt_xy: np.ndarray
    gt_has: np.ndarray
    gt_ids: np.ndarray
    gt_head_size: np.ndarray
    pr_xy: np.ndarray
    pr_has: np.ndarray
    pr_scores: np.ndarray
    pr_ids: np.ndarray
    where: str


def has_point_list(person, source_format: str) -> bool:
    """poseval's ``rectHasPoints``: does the person have ``annopoints[0].point`` once the file is in 2017 form?

    poseval converts a 2018 file with convert.py, which gives every person that list (possibly empty). A 2017
    file is read as it is; the reader keeps a point-less person's own ``annopoints`` value in ``extra``.
    """
    if source_format != "2017" or person.present.any():
        return True
    annopoints = person.extra.get("annopoints")
    return (isinstance(annopoints, list) and len(annopoints) > 0 and isinstance(annopoints[0], dict)
            and len(annopoints[0]) > 0 and "point" in annopoints[0])


def head_sizes(boxes: np.ndarray) -> np.ndarray:
    """(N,) poseval's head size of head boxes (N, 4) ``x1, y1, x2, y2`` (NaN rows give NaN).

    poseval computes ``0.6 * np.linalg.norm(np.subtract([x2, y2], [x1, y1]))`` per person; ``norm`` of a vector is
    ``sqrt(x.dot(x))``, and ``np.vecdot`` runs the same dot routine over all rows at once, so the values are equal
    to the last bit (a plain ``dx * dx + dy * dy`` is not: the dot routine may fuse the multiply-add).
    """
    diff = boxes[:, 2:] - boxes[:, :2]
    if hasattr(np, "vecdot"):  # numpy >= 2.0
        return HEAD_SIZE_FACTOR * np.sqrt(np.vecdot(diff, diff))
    return HEAD_SIZE_FACTOR * np.array([np.linalg.norm(d) for d in diff])


_NO_BOX = (np.nan,) * 4
_NO_SCORES = np.full(len(POSETRACK18.joints), MIN_SCORE)


def _people_arrays(people, with_scores: bool):
    """Stack PersonAnnotation objects -> xy (N, 15, 2), has (N, 15), ids (N,), head size or scores (N[, 15])."""
    n = len(people)
    if n == 0:
        xy = np.zeros((0, NUM_JOINTS, 2))
        extra = np.zeros((0, NUM_JOINTS)) if with_scores else np.zeros(0)
        return xy, np.zeros((0, NUM_JOINTS), bool), np.zeros(0, np.int64), extra
    keypoints = np.array([p.keypoints for p in people], dtype=np.float64)  # (N, 17, 3)
    has = np.any(keypoints != 0, axis=2)  # PersonAnnotation.present, unless a 2017 person lists its joints
    for i, p in enumerate(people):
        if p.listed is not None:
            has[i] = p.present
    xy = keypoints[:, PT18_TO_EVAL, :2]
    has = has[:, PT18_TO_EVAL]
    ids = np.array([int(p.track_id) for p in people], dtype=np.int64)
    if with_scores:
        # poseval: an empty 'scores' list is no scores
        scores = np.array([p.scores if p.scores is not None and len(p.scores) > 0 else _NO_SCORES for p in people],
                          dtype=np.float64)
        for i, p in enumerate(people):
            if p.scored is not None:  # a 2017 point without 'score' among scored ones
                scores[i][~np.asarray(p.scored, bool)] = MIN_SCORE
        return xy, has, ids, scores[:, PT18_TO_EVAL]
    boxes = np.array([_NO_BOX if p.head_box is None else p.head_box for p in people], dtype=np.float64)
    return xy, has, ids, head_sizes(boxes)


def points_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """(N,) bool: which of ``points`` (N, 2) lie strictly inside ``polygon`` (M, 2).

    Even-odd ray casting with points on an edge or vertex excluded, which is shapely's ``Polygon.contains``
    for the simple polygons PoseTrack's ignore regions are. A polygon with fewer than 3 vertices or a non-finite
    vertex contains nothing, nor does it contain a non-finite point (as in shapely).
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    polygon = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    if len(polygon) < 3 or len(points) == 0 or not np.all(np.isfinite(polygon)):
        return np.zeros(len(points), bool)
    px, py = points[:, 0:1], points[:, 1:2]  # (N, 1)
    x1, y1 = polygon[:, 0][None], polygon[:, 1][None]  # (1, M)
    x2, y2 = np.roll(polygon[:, 0], -1)[None], np.roll(polygon[:, 1], -1)[None]
    # Crossing test: edges that straddle the horizontal line through the point, crossed to its right.
    straddle = (y1 > py) != (y2 > py)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
    inside = np.count_nonzero(straddle & (px < x_cross), axis=1) % 2 == 1
    # Boundary: collinear with an edge and within its bounding box.
    cross = (x2 - x1) * (py - y1) - (y2 - y1) * (px - x1)
    on_edge = (
        (cross == 0)
        & (px >= np.minimum(x1, x2)) & (px <= np.maximum(x1, x2))
        & (py >= np.minimum(y1, y2)) & (py <= np.maximum(y1, y2))
    )
    return inside & ~on_edge.any(axis=1)


def _remove_ignored(xy: np.ndarray, has: np.ndarray, regions: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Drop joints strictly inside any region; returns the new ``has`` (N, 15) and the people to keep (N,)."""
    has = has.copy()
    flat = xy.reshape(-1, 2)
    ignored = np.zeros(len(flat), bool)
    for region in regions:
        ignored |= points_in_polygon(flat, region)
    has &= ~ignored.reshape(has.shape)
    return has, has.any(axis=1)


def sequence_frames(gt_seq, pred_seq, gt_name: str = "", pred_name: str = "") -> list[EvalFrame]:
    """poseval's per-sequence cleanup of a ground-truth and a prediction ``PoseTrackSequence``.

    Frames are paired by position (poseval's rule). Raises ``EvaluationError`` for what poseval would reject:
    a different number of frames, a track id >= 10000, duplicate predicted track ids in one frame, or a
    ground-truth person without a head box in a frame where poseval needs its head size.
    """
    gt_name = gt_name or gt_seq.name
    pred_name = pred_name or pred_seq.name
    if len(gt_seq.frames) != len(pred_seq.frames):
        raise EvaluationError(
            f"{pred_name} has {len(pred_seq.frames)} frames but the ground truth {gt_name} has "
            f"{len(gt_seq.frames)}; write one prediction frame per ground-truth frame, in the same order"
        )
    id_error = _first_track_id_error(gt_seq, pred_seq, gt_name, pred_name)  # (frame index, error) or None
    # poseval cleanupData: unlabeled and empty GT frames are not evaluated ...
    kept = [(t, g, p) for t, (g, p) in enumerate(zip(gt_seq.frames, pred_seq.frames)) if len(g.people)]
    # ... and only then the people without a point list (the frame stays, possibly empty)
    gt_people = [[p for p in g.people if has_point_list(p, gt_seq.source_format)] for _, g, _ in kept]
    pr_people = [[p for p in pr.people if has_point_list(p, pred_seq.source_format)] for _, _, pr in kept]
    # The people of all frames stacked once, then cut per frame.
    gt_all = _people_arrays([p for people in gt_people for p in people], with_scores=False)
    pr_all = _people_arrays([p for people in pr_people for p in people], with_scores=True)
    no_head_all = np.array([p.head_box is None for people in gt_people for p in people], dtype=bool)
    gt_ends = np.cumsum([len(people) for people in gt_people]).tolist()
    pr_ends = np.cumsum([len(people) for people in pr_people]).tolist()
    frames = []
    for k, (t, gt_frame, _) in enumerate(kept):
        if id_error is not None and id_error[0] <= t:  # the errors in frame order, as poseval meets them
            raise id_error[1]
        g0, g1 = (gt_ends[k - 1] if k else 0), gt_ends[k]
        p0, p1 = (pr_ends[k - 1] if k else 0), pr_ends[k]
        gt_xy, gt_has, gt_ids, head = (a[g0:g1] for a in gt_all)
        pr_xy, pr_has, pr_ids, scores = (a[p0:p1] for a in pr_all)
        no_head = no_head_all[g0:g1]
        where = f"{gt_name}, frame {gt_frame.file_name}"
        if gt_frame.ignore_regions:
            regions = [np.asarray(r, dtype=np.float64).reshape(-1, 2) for r in gt_frame.ignore_regions]
            if any(1 <= len(r) <= 2 for r in regions):  # shapely refuses such a polygon: poseval crashes
                raise EvaluationError(f"{where}: an ignore region has only 1 or 2 vertices, which poseval (shapely) "
                                      "cannot turn into a polygon; give every region at least 3 vertices or remove "
                                      "it")
            gt_has, keep_gt = _remove_ignored(gt_xy, gt_has, regions)
            pr_has, keep_pr = _remove_ignored(pr_xy, pr_has, regions)
            gt_xy, gt_has, gt_ids, head = gt_xy[keep_gt], gt_has[keep_gt], gt_ids[keep_gt], head[keep_gt]
            no_head = no_head[keep_gt]
            pr_xy, pr_has, pr_ids, scores = pr_xy[keep_pr], pr_has[keep_pr], pr_ids[keep_pr], scores[keep_pr]
        if len(pr_ids) and no_head.any():  # poseval computes every GT head size of a frame with predictions
            raise EvaluationError(f"{where}: a ground-truth person has no head box, which poseval needs (PCKh) in "
                                  "frames with predictions; add its 'bbox_head' (2017: x1, y1, x2, y2)")
        frames.append(EvalFrame(gt_xy, gt_has, gt_ids, head, pr_xy, pr_has, scores, pr_ids, where))
    if id_error is not None:
        raise id_error[1]
    return frames


def _first_track_id_error(gt_seq, pred_seq, gt_name: str, pred_name: str):
    """(frame index, EvaluationError) of the first track id poseval rejects (>= MAX_TRACK_ID, or twice in one
    prediction frame), or None."""
    for t, (gt_frame, pr_frame) in enumerate(zip(gt_seq.frames, pred_seq.frames)):
        for role, name, frame in (("ground truth", gt_name, gt_frame), ("prediction", pred_name, pr_frame)):
            ids = [int(p.track_id) for p in frame.people]
            if any(i >= MAX_TRACK_ID for i in ids):
                return t, EvaluationError(
                    f"{name}, frame {frame.file_name}: {role} track id {max(ids)} is >= {MAX_TRACK_ID}, "
                    f"which poseval rejects; renumber the tracks below {MAX_TRACK_ID}"
                )
            if role == "prediction" and len(set(ids)) != len(ids):
                return t, EvaluationError(
                    f"{name}, frame {frame.file_name}: duplicate prediction track ids "
                    f"{sorted({i for i in ids if ids.count(i) > 1})}; give every person of a frame its own id"
                )
    return None


def normalized_distances(frame: EvalFrame) -> np.ndarray:
    """(P, G, 15) joint distances divided by the GT head size; inf where either joint is missing.

    A head box of zero size gives inf (NaN for a distance of 0), as in poseval: such a person matches nothing.
    """
    diff = frame.pr_xy[:, None] - frame.gt_xy[None]  # (P, G, 15, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = np.sqrt(diff[..., 0] ** 2 + diff[..., 1] ** 2) / frame.gt_head_size[None, :, None]
    both = frame.pr_has[:, None] & frame.gt_has[None]
    return np.where(both, dist, np.inf)
