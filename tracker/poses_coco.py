"""Bring your own poses: COCO keypoint *results* (MMPose, Ultralytics, rtmlib, ...) as tracking-only input.

A COCO results file is a JSON list of detections, one per person and image:
``{"image_id": ..., "keypoints": [x1, y1, s1, ..., x17, y17, s17], "score": float, "category_id": 1}`` with the 17
COCO joints in COCO order (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles); the third number of
each joint is its confidence (a visibility flag works too: 0 = absent). ``score`` is the person score.

Image id to frame (the rule, one for the whole file):

- integers below 10,000,000,000 are the **0-based frame index** (``image_id: 0`` is the first frame);
- PoseTrack image ids (``10000000000 + video * 10000 + frame``, 11 digits) give their last four digits;
- strings that are file names or stems ending in a number (``"000042.jpg"``, ``"frame_42"``) give that number.

Anything else (a dict file, missing keys, 51 numbers missing, ids of mixed kinds, a non-numeric string) is refused
with one sentence naming the file and what to fix. Frames without a detection have no people; the sequence runs to
the last frame with one, or to the video's length when the frames are given.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from pose.keypoints import COCO17

POSETRACK_ID_BASE = 10_000_000_000     # PoseTrack 2018 image ids: "1" + 6-digit video + 4-digit frame
_TRAILING_NUMBER = re.compile(r"(\d+)$")


def frame_of_image_id(image_id, error: type[Exception], path: Path) -> int:
    """The 0-based frame index of a COCO results ``image_id`` (rule in the module docstring)."""
    if isinstance(image_id, bool):
        raise error(f"poses file {path}: image_id {image_id!r} is not a frame number or file name")
    if isinstance(image_id, (int, np.integer)) or (isinstance(image_id, float) and image_id.is_integer()):
        value = int(image_id)
        if value < 0:
            raise error(f"poses file {path}: image_id {value} is negative; image ids are 0-based frame indices")
        return value % 10000 if value >= POSETRACK_ID_BASE else value
    if isinstance(image_id, str):
        match = _TRAILING_NUMBER.search(Path(image_id).stem)
        if match:
            return int(match.group(1))
    raise error(f"poses file {path}: image_id {image_id!r} is neither a frame number nor a file name ending in "
                f"one (e.g. 000042.jpg); number the images by frame")


def read_coco_results(path: Path, data: list, error: type[Exception], num_frames: int | None = None):
    """(keypoints per frame (N_t, 17, 2), scores (N_t, 17), person scores (N_t,)) of a COCO results list."""
    k = COCO17.num_joints
    people: dict[int, list] = {}
    kinds = set()
    for a, det in enumerate(data):
        if not isinstance(det, dict) or "image_id" not in det or "keypoints" not in det:
            raise error(f"poses file {path}: entry {a} needs 'image_id' and 'keypoints' (a COCO keypoint results "
                        f"list)")
        kinds.add(isinstance(det["image_id"], str))
        try:
            flat = np.asarray(det["keypoints"], np.float64).reshape(k, 3)
            score = float(det.get("score", 1.0))
        except (TypeError, ValueError):
            raise error(f"poses file {path}: entry {a} must have {3 * k} keypoint numbers (17 COCO joints x, y, "
                        f"score) and a numeric score") from None
        if det.get("category_id", 1) != 1:
            continue                                    # not a person
        people.setdefault(frame_of_image_id(det["image_id"], error, path), []).append((flat, score))
    if len(kinds) > 1:
        raise error(f"poses file {path}: image ids mix numbers and file names; use one kind")
    if not people:
        raise error(f"poses file {path} holds no person keypoints (category 1); nothing to track")
    count = max(max(people) + 1, num_frames or 0)
    keypoints, scores, person_scores = [], [], []
    for t in range(count):
        entries = people.get(t, [])
        flat = np.array([e[0] for e in entries], np.float32).reshape(-1, k, 3)
        absent = (flat == 0).all(axis=2)
        keypoints.append(flat[..., :2])
        scores.append(np.where(absent, 0.0, np.clip(flat[..., 2], 0.0, 1.0)).astype(np.float32))
        person_scores.append(np.array([e[1] for e in entries], np.float32))
    return keypoints, scores, person_scores
