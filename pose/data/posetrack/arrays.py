"""Prediction sequences from per-frame arrays (what the tracker writes)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from pose.data.posetrack.format2018 import _default_category, _sequence_fields
from pose.data.posetrack.types import (
    FrameAnnotation,
    NUM_JOINTS,
    PersonAnnotation,
    PoseTrackSequence,
    _PLACEHOLDER_IDX,
)


def people_from_arrays(keypoints: np.ndarray, scores: np.ndarray, track_ids: Sequence[int],
                       score_threshold: float = 0.0, boxes: np.ndarray | None = None,
                       box_scores: np.ndarray | None = None) -> list[PersonAnnotation]:
    """Predicted people of one frame from arrays (POSETRACK18 joint order).

    keypoints (N, 17, 2); scores (N, 17); track_ids (N,) int; boxes (N, 4) ``x1, y1, x2, y2`` or None;
    box_scores (N,) or None. A joint whose score is below ``score_threshold`` or whose coordinates are NaN
    is written ``0, 0, 0`` with score 0 (absent for poseval); the ears always are. Present joints get v = 1.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64).reshape(-1, NUM_JOINTS, 2)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1, NUM_JOINTS)
    track_ids = np.asarray(track_ids).reshape(-1)
    n = len(keypoints)
    if len(scores) != n or len(track_ids) != n:
        raise ValueError(f"keypoints, scores and track_ids disagree on the number of people: {n}, "
                         f"{len(scores)}, {len(track_ids)}")
    present = np.all(np.isfinite(keypoints), axis=2) & np.isfinite(scores) & (scores >= score_threshold)
    present[:, _PLACEHOLDER_IDX] = False
    kp = np.zeros((n, NUM_JOINTS, 3))
    kp[..., :2] = np.where(present[..., None], keypoints, 0.0)
    kp[..., 2] = present
    sc = np.where(present, scores, 0.0)
    people = []
    for j in range(n):
        bbox = None
        if boxes is not None:
            x1, y1, x2, y2 = (float(v) for v in boxes[j])
            bbox = np.array([x1, y1, x2 - x1, y2 - y1])
        score = None if box_scores is None else float(box_scores[j])
        people.append(PersonAnnotation(int(track_ids[j]), kp[j], sc[j], None, bbox, score))
    return people


def sequence_from_arrays(name: str, file_names: Sequence[str], keypoints: Sequence[np.ndarray],
                         scores: Sequence[np.ndarray], track_ids: Sequence[np.ndarray],
                         score_threshold: float = 0.0, boxes: Sequence[np.ndarray] | None = None,
                         box_scores: Sequence[np.ndarray] | None = None,
                         image_ids: Sequence[int] | None = None,
                         is_labeled: Sequence[bool] | None = None) -> PoseTrackSequence:
    """A prediction sequence (2018) from per-frame arrays, ready for :func:`write_sequence`.

    file_names: one per frame (mirror the ground truth, e.g. ``images/val/000342_mpii_test/000000.jpg``).
    keypoints[t] (N_t, 17, 2), scores[t] (N_t, 17), track_ids[t] (N_t,), boxes[t] (N_t, 4) xyxy; frames
    without people take empty arrays. image_ids default to poseval's ids for PoseTrack file names and to
    the frame index otherwise; is_labeled defaults to True for every frame.
    """
    t = len(file_names)
    for label, seq_arg in (("keypoints", keypoints), ("scores", scores), ("track_ids", track_ids),
                           ("boxes", boxes), ("box_scores", box_scores), ("image_ids", image_ids),
                           ("is_labeled", is_labeled)):
        if seq_arg is not None and len(seq_arg) != t:
            raise ValueError(f"{label} has {len(seq_arg)} frames but file_names has {t}")
    frames = []
    for i, fname in enumerate(file_names):
        vid_id, parsed_id = _sequence_fields(fname, name)
        image_id = int(image_ids[i]) if image_ids is not None else (parsed_id if parsed_id is not None else i)
        people = people_from_arrays(keypoints[i], scores[i], track_ids[i], score_threshold,
                                    None if boxes is None else boxes[i],
                                    None if box_scores is None else box_scores[i])
        labeled = True if is_labeled is None else bool(is_labeled[i])
        extra = {"frame_id": image_id, "vid_id": vid_id, "nframes": t, "has_no_densepose": True}
        frames.append(FrameAnnotation(fname, image_id, labeled, people, [], extra))
    return PoseTrackSequence(name, frames, "2018", {"categories": [_default_category()]})
