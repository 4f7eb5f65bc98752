"""Reading per-frame poses *without* track ids, the input of tracking-only mode (``tracker.run --poses FILE``).

The file is PoseTrack 2018 JSON (``images`` in frame order, ``annotations`` with 17 x ``x, y, v`` ``keypoints`` in
the order of ``categories[0].keypoints``, optional per-joint ``scores``); any ``track_id`` is ignored, since giving
ids is what tracking-only mode does. ``pose.data.posetrack.read_sequence`` validates complete files and requires
track ids, so this reader does only the checks tracking needs. Joints written ``0, 0, 0`` are absent (score 0);
without ``scores``, a present joint's score is its ``v`` (1 for a visible one).

A JSON *list* is read as COCO keypoint results instead (``tracker.poses_coco``: MMPose, Ultralytics, rtmlib output;
``image_id`` = 0-based frame index), in the COCO-17 layout; anything else is refused with one sentence.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose.fileio import parse_json_file
from pose.keypoints import COCO17, POSETRACK18
from posetrack_common.boxes import PERSON_BOX_EXTEND
from tracker.types import Poses


class PosesFileError(ValueError):
    """A poses file that cannot be used; the message names the file and the field."""


@dataclass
class UntrackedSequence:
    """file_names (T,), image_ids (T,), is_labeled (T,), and per frame keypoints (N_t, 17, 2), scores (N_t, 17)
    in POSETRACK18 order."""

    name: str
    file_names: list[str]
    image_ids: list
    is_labeled: list[bool]
    keypoints: list[np.ndarray]
    scores: list[np.ndarray]
    layout: str = POSETRACK18.name             # the keypoints' layout (coco17 for COCO results)
    person_scores: list[np.ndarray] | None = None   # (N_t,) per frame when the file gives them


def read_untracked_poses(path: str | Path, num_frames: int | None = None) -> UntrackedSequence:
    """A PoseTrack 2018 poses file or a COCO results list; ``num_frames`` (the video's length, when known) pads a
    COCO results sequence to it."""
    path = Path(path)
    if not path.is_file():
        raise PosesFileError(f"poses file {path} does not exist; check the path")
    data = parse_json_file(path, PosesFileError, "poses file", "fix or regenerate it")
    if isinstance(data, list):
        return _coco_results(path, data, num_frames)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) or not data["images"]:
        raise PosesFileError(f"poses file {path} has no 'images' list; give a PoseTrack 2018 file or a COCO "
                             f"keypoint results list")
    if not isinstance(data.get("annotations", []), list):
        raise PosesFileError(f"poses file {path}: 'annotations' must be a list")
    names = list(POSETRACK18.joints)
    categories = data.get("categories")
    if isinstance(categories, list) and categories and isinstance(categories[0], dict):
        names = categories[0].get("keypoints", names)
    if not isinstance(names, list) or any(n not in POSETRACK18.joints for n in names):
        raise PosesFileError(f"poses file {path}: categories[0].keypoints must be PoseTrack joint names")
    order = np.array([POSETRACK18.joints.index(n) for n in names])
    frame_of = {}
    for i, image in enumerate(data["images"]):
        if not isinstance(image, dict) or "id" not in image or "file_name" not in image:
            raise PosesFileError(f"poses file {path}: images[{i}] needs 'id' and 'file_name'")
        frame_of[image["id"]] = i
    people: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in data["images"]]
    k = len(names)
    for a, ann in enumerate(data.get("annotations", [])):
        try:
            frame = frame_of[ann["image_id"]]
            flat = np.asarray(ann["keypoints"], np.float64).reshape(k, 3)
            given = ann.get("scores") or None
            scores_file = np.asarray(given, np.float64).reshape(k) if given is not None else None
        except (KeyError, TypeError, ValueError):
            raise PosesFileError(f"poses file {path}: annotation {a} needs an image_id of 'images' and {3 * k} "
                                 f"keypoint numbers (and {k} scores if any)") from None
        keypoints = np.zeros((POSETRACK18.num_joints, 2))
        scores = np.zeros(POSETRACK18.num_joints)
        present = np.any(flat != 0, axis=1)
        keypoints[order] = flat[:, :2]
        scores[order] = np.where(present, flat[:, 2] if scores_file is None else scores_file, 0.0)
        people[frame].append((keypoints, scores))
    kps = [np.array([p[0] for p in f], np.float32).reshape(-1, POSETRACK18.num_joints, 2) for f in people]
    scs = [np.array([p[1] for p in f], np.float32).reshape(-1, POSETRACK18.num_joints) for f in people]
    return UntrackedSequence(
        name=path.stem,
        file_names=[str(image["file_name"]) for image in data["images"]],
        image_ids=[image["id"] for image in data["images"]],
        is_labeled=[bool(image.get("is_labeled", True)) for image in data["images"]],
        keypoints=kps,
        scores=scs,
    )


def _coco_results(path: Path, data: list, num_frames: int | None) -> UntrackedSequence:
    from tracker.poses_coco import read_coco_results

    keypoints, scores, person_scores = read_coco_results(path, data, PosesFileError, num_frames)
    n = len(keypoints)
    return UntrackedSequence(name=path.stem, file_names=[f"images/{path.stem}/{t:06d}.jpg" for t in range(n)],
                             image_ids=list(range(n)), is_labeled=[True] * n, keypoints=keypoints, scores=scores,
                             layout=COCO17.name, person_scores=person_scores)


def to_poses(sequence: UntrackedSequence, box_extend: float = PERSON_BOX_EXTEND) -> list[Poses]:
    """Per-frame ``Poses`` with boxes around the present joints (for OKS areas and box IoU); box scores are the
    file's person scores when it has them, else the mean joint score."""
    from tracker.pipeline import poses_with_boxes

    poses = [poses_with_boxes(kp, sc, box_extend) for kp, sc in zip(sequence.keypoints, sequence.scores)]
    if sequence.person_scores is not None:
        poses = [Poses(p.keypoints, p.scores, p.boxes, s) for p, s in zip(poses, sequence.person_scores)]
    return poses
