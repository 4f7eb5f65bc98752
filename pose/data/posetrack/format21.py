"""PoseTrack21 annotation and prediction files: detect, read, validate, write.

PoseTrack21 keeps PoseTrack 2018's COCO-like layout, one file per video, and adds ``person_id`` (an identity that
is stable across videos) to every annotation and ``has_labeled_person`` to every image:

- ``images``: ``file_name``, ``id`` (= ``frame_id``), ``vid_id``, ``nframes``, ``is_labeled``,
  ``has_labeled_person``, ``ignore_regions_x`` / ``ignore_regions_y`` (one x list and one y list per polygon);
- ``annotations``: ``image_id``, ``track_id``, ``person_id``, ``keypoints`` (17 x ``x, y, v`` in
  ``pose.keypoints.POSETRACK18`` order), ``bbox`` and ``bbox_head`` ``[x, y, w, h]``, ``category_id``, ``id``
  and, for predictions, ``scores`` (17 per-joint confidences);
- ``categories``: the person category (ground truth; the official kit's prediction files have none).

A file is PoseTrack21 when an image has ``has_labeled_person`` or an annotation has ``person_id``; the evaluator
reads every file of a folder whose ground truth is PoseTrack21 as PoseTrack21 (prediction files need neither
marker, nor ``categories``). It reads into the same :class:`~pose.data.posetrack.PoseTrackSequence` as 2017 and
2018 files (``source_format == "21"``; ``person_id`` stays in each person's ``extra``), so the converters of
``pose.data.posetrack`` work on it: ``python -m pose.data.posetrack convert SRC DST --format 21|2018|2017``.

The official PoseTrack21 evaluation kit crashes, or silently mis-scores, on inputs this reader refuses with one
sentence naming the file, the frame and the person: a ``scores`` list that is not 17 numbers, the same
``track_id`` twice in a frame, a negative ``track_id`` (the kit aliases it to the largest id), a labelled ground-truth
person with joints but no ``bbox_head``, an annotation pointing at no image, keypoints that are not 51 finite
numbers. Frame-order problems between a prediction and its ground truth are checked by :func:`check_pair`.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from pose.data.posetrack.checks import _Context, _check_image, _is_int, _load_json
from pose.data.posetrack.format2018 import _file_dict, _flat_keypoints, _regions_2018, _sequence_fields, _width
from pose.data.posetrack.types import (
    NUM_JOINTS,
    ROLES,
    FrameAnnotation,
    PersonAnnotation,
    PoseTrackFormatError,
    PoseTrackSequence,
)
from pose.keypoints import POSETRACK18_JOINTS, POSETRACK18_PLACEHOLDERS

# The official kit's 15 joint names, in its column order: POSETRACK18 without the ears.
KIT_JOINT_NAMES = ("Nose", "Neck", "Head", "LS", "RS", "LE", "RE", "LW", "RW", "LH", "RH", "LK", "RK", "LA", "RA")
# Index in the 17 POSETRACK18 joints of each kit joint.
KIT_TO_PT18 = np.array([i for i, n in enumerate(POSETRACK18_JOINTS) if n not in POSETRACK18_PLACEHOLDERS])


def is_posetrack21(data: Any) -> bool:
    """Whether a parsed JSON object is a PoseTrack21 file (see the module docstring for the rule)."""
    if not isinstance(data, dict) or "annolist" in data or not isinstance(data.get("images"), list):
        return False
    images, annotations = data["images"], data.get("annotations")
    return (any(isinstance(i, dict) and "has_labeled_person" in i for i in images)
            or (isinstance(annotations, list)
                and any(isinstance(a, dict) and "person_id" in a for a in annotations)))


def is_posetrack21_file(path: str | os.PathLike) -> bool:
    """Whether the file at ``path`` is PoseTrack21 (an unreadable or non-JSON file is not)."""
    try:
        return is_posetrack21(_load_json(Path(path)))
    except PoseTrackFormatError:
        return False


def read_posetrack21(path: str | os.PathLike, role: str = "any") -> PoseTrackSequence:
    """Read and validate one PoseTrack21 file (one video).

    role ``"gt"`` also requires ``is_labeled`` on every image and a ``bbox_head`` on every person with a joint;
    ``"pred"`` requires 17 ``scores`` on every person with a joint; ``"any"`` checks structure only.
    Raises ``PoseTrackFormatError`` with one sentence naming the file, frame, person and field.
    """
    path = Path(path)
    return posetrack21_from_data(_load_json(path, fast=False), path, role)


def posetrack21_from_data(data: Any, path: Path, role: str = "any") -> PoseTrackSequence:
    """:func:`read_posetrack21` on an already parsed JSON object (``path`` names the file in errors)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    ctx = _Context(path)
    if not isinstance(data, dict):
        raise ctx.error(f"the top level is a JSON {type(data).__name__}, not an object",
                        "a PoseTrack21 file is an object with 'images' and 'annotations'")
    images, annotations = data.get("images"), data.get("annotations")
    if not isinstance(images, list) or not images:
        raise ctx.error("'images' is missing, empty or not a list", "list every frame of the video",
                        field_name="images")
    if not isinstance(annotations, list):
        raise ctx.error("has no 'annotations' list", "write 'annotations': [] when there are no people",
                        field_name="annotations")
    frames, frame_of_id = _read_images(images, ctx, role)
    _read_annotations(annotations, frames, frame_of_id, ctx, role)
    for i, frame in enumerate(frames):
        if frame.is_labeled is None:  # a prediction file: the frames with people are the labelled ones
            frame.is_labeled = bool(frame.people)
        seen: dict[int, PersonAnnotation] = {}
        for person in frame.people:
            if person.track_id in seen:
                raise ctx.error(f"'track_id' {person.track_id} is used by two people of this frame "
                                f"({_who(seen[person.track_id])} and {_who(person)})",
                                "give every person of a frame its own track id (the official kit stops here)",
                                frame=i, file_name=frame.file_name, field_name="track_id")
            seen[person.track_id] = person
    extra = {k: v for k, v in data.items() if k not in ("images", "annotations")}
    return PoseTrackSequence(path.stem, frames, "21", extra)


def _who(person: PersonAnnotation) -> str:
    pid = person.extra.get("person_id")
    return f"track_id {person.track_id}" + ("" if pid is None else f", person_id {pid}")


def _read_images(images: list, ctx: _Context, role: str) -> tuple[list[FrameAnnotation], dict[int, int]]:
    frames: list[FrameAnnotation] = []
    frame_of_id: dict[int, int] = {}
    for i, img in enumerate(images):
        image_id = img.get("id", img.get("frame_id")) if isinstance(img, dict) else None
        fname = _check_image(img, image_id, frame_of_id, ctx, i)
        labeled = img.get("is_labeled")
        if labeled is None and role == "gt":
            raise ctx.error("'is_labeled' is missing on a ground-truth image",
                            "the official kit evaluates exactly the frames marked is_labeled: true", frame=i,
                            file_name=fname, field_name="is_labeled")
        if labeled is not None and not isinstance(labeled, (bool, int)):
            raise ctx.error(f"'is_labeled' is {labeled!r}, not a boolean", frame=i, file_name=fname,
                            field_name="is_labeled")
        regions = _regions_2018(img, ctx, i, fname)
        extra = {k: v for k, v in img.items()
                 if k not in ("file_name", "id", "is_labeled", "ignore_regions_x", "ignore_regions_y")}
        frames.append(FrameAnnotation(fname, image_id, None if labeled is None else bool(labeled), [], regions,
                                      extra))
    return frames, frame_of_id


def _numbers(value: Any, count: int) -> np.ndarray | None:
    """``value`` as ``count`` finite float64 numbers, or None when it is not that."""
    if not isinstance(value, list) or len(value) != count:
        return None
    if not all(type(v) is float or type(v) is int for v in value):  # not bool, str, None, lists
        return None
    arr = np.array(value, dtype=np.float64)
    return arr if np.all(np.isfinite(arr)) else None


def _box(value: Any) -> list | None:
    """A ``[x, y, w, h]`` of 4 finite numbers as a list, or None (cheaper than numpy for 4 values)."""
    if (isinstance(value, list) and len(value) == 4
            and all((type(v) is float or type(v) is int) and math.isfinite(v) for v in value)):
        return value
    return None


def _read_annotations(annotations: list, frames: list[FrameAnnotation], frame_of_id: dict[int, int],
                      ctx: _Context, role: str) -> None:
    """Validates every annotation; keypoints and scores are converted in one array each, and only when that
    fails is the offending annotation looked for (so that a valid file is read fast)."""
    people, errs, flat_keypoints, flat_scores, scored = [], [], [], [], []
    for a, ann in enumerate(annotations):
        if not isinstance(ann, dict):
            raise ctx.error(f"'annotations[{a}]' is not an object", field_name="annotations")
        image_id = ann.get("image_id")
        i = frame_of_id.get(image_id) if _is_int(image_id) else None
        if i is None:
            raise ctx.error(f"annotation {a} has 'image_id' {image_id!r}, which matches no entry of 'images'",
                            "list every image an annotation points at", field_name="image_id")
        track_id, person_id = ann.get("track_id"), ann.get("person_id")
        who = f"annotation {a} (track_id {track_id!r}"
        who += ")" if person_id is None else f", person_id {person_id!r})"
        err = dict(frame=i, file_name=frames[i].file_name, where=who)
        if not _is_int(track_id) or track_id < 0:
            raise ctx.error(f"'track_id' is {track_id!r}, not an integer >= 0",
                            "number the tracks 0, 1, ... (the official kit silently merges a negative id with "
                            "the largest one)", field_name="track_id", **err)
        if person_id is not None and not _is_int(person_id):
            raise ctx.error(f"'person_id' is {person_id!r}, not an integer", field_name="person_id", **err)
        keypoints = ann.get("keypoints")
        if not isinstance(keypoints, list) or len(keypoints) != 3 * NUM_JOINTS:
            raise _keypoint_error(ctx, err)
        scores = ann.get("scores")
        if scores is not None and scores != []:
            if not isinstance(scores, list) or len(scores) != NUM_JOINTS:
                raise _score_error(ctx, err, scores)
            scored.append(len(people))
            flat_scores.append(scores)
        head, bbox, score = ann.get("bbox_head"), ann.get("bbox"), ann.get("score")
        for name, value in (("bbox_head", head), ("bbox", bbox)):
            if value is not None and _box(value) is None:
                raise ctx.error(f"'{name}' is {value!r}, not 4 numbers [x, y, w, h]", field_name=name, **err)
        if score is not None and _numbers([score], 1) is None:
            raise ctx.error(f"'score' is {score!r}, not a finite number", field_name="score", **err)
        if head is not None:
            head = np.array([head[0], head[1], head[0] + head[2], head[1] + head[3]], dtype=np.float64)
        extra = {k: v for k, v in ann.items()
                 if k not in ("image_id", "track_id", "keypoints", "scores", "bbox_head", "bbox", "score")}
        people.append((i, PersonAnnotation(track_id, None, None, head, None if bbox is None else np.array(
            bbox, dtype=np.float64), None if score is None else float(score), extra)))
        errs.append(err)
        flat_keypoints.append(keypoints)
    keypoints = _as_array(flat_keypoints, 3 * NUM_JOINTS, lambda n: _keypoint_error(ctx, errs[n]))
    scores = _as_array(flat_scores, NUM_JOINTS, lambda n: _score_error(ctx, errs[scored[n]], flat_scores[n]))
    keypoints = keypoints.reshape(-1, NUM_JOINTS, 3)
    for n, s in zip(scored, scores):
        people[n][1].scores = s
    has_joint = np.any((keypoints[:, KIT_TO_PT18, 0] > 0) & (keypoints[:, KIT_TO_PT18, 1] > 0), axis=1)
    for n, (i, person) in enumerate(people):
        person.keypoints = keypoints[n]
        if role == "pred" and has_joint[n] and person.scores is None:
            raise ctx.error("'scores' is missing on a prediction", f"write {NUM_JOINTS} per-joint scores "
                            "(the pose mAP ranks joints by them)", field_name="scores", **errs[n])
        if role == "gt" and has_joint[n] and person.head_box is None:
            raise ctx.error("'bbox_head' is missing on a ground-truth person with joints",
                            "the kit normalises every distance by the head size; write [x, y, w, h]",
                            field_name="bbox_head", **errs[n])
        frames[i].people.append(person)


def _as_array(rows: list, width: int, error) -> np.ndarray:
    """(N, width) float64 of lists already known to have ``width`` entries; ``error(n)`` for the first bad row."""
    if not rows:
        return np.zeros((0, width))
    try:
        arr = np.array(rows)  # numbers give an int or float array; strings, None, lists do not
        if arr.dtype.kind not in "biuf" or arr.shape != (len(rows), width):
            raise ValueError
        arr = arr.astype(np.float64).reshape(len(rows), width)
        bad = None if np.all(np.isfinite(arr)) else int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
    except (TypeError, ValueError):
        bad = next(n for n, row in enumerate(rows) if _numbers(row, width) is None)
    if bad is not None:
        raise error(bad)
    return arr


def _keypoint_error(ctx: _Context, err: dict) -> PoseTrackFormatError:
    return ctx.error(f"'keypoints' is not {3 * NUM_JOINTS} finite numbers (x, y, v for each of the 17 PoseTrack "
                     "joints)", "write absent joints as 0, 0, 0", field_name="keypoints", **err)


def _score_error(ctx: _Context, err: dict, scores: Any) -> PoseTrackFormatError:
    got = len(scores) if isinstance(scores, list) else type(scores).__name__
    return ctx.error(f"'scores' has {got} entries or non-numbers, expected {NUM_JOINTS} finite numbers",
                     "write one score per joint, ears included (the official kit crashes otherwise)",
                     field_name="scores", **err)


def check_pair(pred: PoseTrackSequence, gt: PoseTrackSequence) -> None:
    """Raise ``PoseTrackFormatError`` unless ``pred`` can be paired with ``gt`` as the official kit pairs them.

    The kit pairs frames by position in the ``images`` lists: the prediction needs at least as many images, and
    at every labelled ground-truth frame both image ids must be equal (the kit asserts it, which is how images in
    another order show up).
    """
    if len(pred.frames) < len(gt.frames):
        i = len(pred.frames)
        raise PoseTrackFormatError(
            f"prediction {pred.name}: has {len(pred.frames)} images but the ground truth has {len(gt.frames)}; "
            f"frame {i} ({gt.frames[i].file_name}) and later are missing, so write one image entry per "
            "ground-truth image, empty frames included.", pred.name, i, gt.frames[i].file_name, "images")
    for i, (p, g) in enumerate(zip(pred.frames, gt.frames)):
        if g.is_labeled and p.image_id != g.image_id:
            raise PoseTrackFormatError(
                f"prediction {pred.name}, frame {i} ({p.file_name}): image id {p.image_id} differs from the "
                f"ground truth's frame {i} ({g.file_name}, id {g.image_id}); write the images in the ground "
                "truth's order.", pred.name, i, p.file_name, "images")


# ----------------------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------------------

def _box_of(person: PersonAnnotation) -> list[float] | None:
    """``[x, y, w, h]``: the person's box, else the extent of its joints, else None."""
    if person.bbox is not None:
        return np.asarray(person.bbox, dtype=np.float64).tolist()
    kp = np.asarray(person.keypoints)
    present = (kp[:, 0] > 0) & (kp[:, 1] > 0)
    if not present.any():
        return None
    lo, hi = kp[present, :2].min(axis=0), kp[present, :2].max(axis=0)
    return [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])]


def to_posetrack21_dict(seq: PoseTrackSequence) -> dict:
    """The PoseTrack21 JSON object of a sequence read from any format.

    ``person_id`` defaults to the ``track_id`` and ``has_labeled_person`` to whether a labelled frame has people;
    fields of a PoseTrack21 source kept in ``extra`` are written back.
    """
    own = seq.source_format == "21"
    images, annotations = [], []
    for frame in seq.frames:
        vid_id, _ = _sequence_fields(frame.file_name, seq.name)
        img = dict(frame.extra) if own else {}
        img.update({"file_name": frame.file_name, "id": int(frame.image_id)})
        img.setdefault("frame_id", int(frame.image_id))
        img.setdefault("vid_id", vid_id)
        img.setdefault("nframes", len(seq.frames))
        img["is_labeled"] = bool(frame.is_labeled)
        img.setdefault("has_labeled_person", bool(frame.is_labeled and frame.people))
        img["ignore_regions_x"] = [r[:, 0].tolist() for r in frame.ignore_regions]
        img["ignore_regions_y"] = [r[:, 1].tolist() for r in frame.ignore_regions]
        images.append(img)
        for n, person in enumerate(frame.people):
            if int(person.track_id) < 0:
                raise PoseTrackFormatError(f"{seq.name}, frame {frame.file_name}: track id {person.track_id} is "
                                           "negative, which PoseTrack21 cannot hold; renumber the tracks from 0.",
                                           seq.name, None, frame.file_name, "track_id")
            ann = {k: v for k, v in person.extra.items() if own or k == "person_id"}
            ann.setdefault("id", int(frame.image_id) * 100 + n)
            ann["image_id"] = int(frame.image_id)
            ann.setdefault("category_id", 1)
            ann["keypoints"] = _flat_keypoints(np.asarray(person.keypoints, dtype=np.float64))
            ann["track_id"] = int(person.track_id)
            ann.setdefault("person_id", int(person.track_id))
            if person.scores is not None:
                ann["scores"] = np.asarray(person.scores, dtype=np.float64).tolist()
            box = _box_of(person)
            if box is not None:
                ann["bbox"] = box
            if person.head_box is not None:
                x1, y1, x2, y2 = (float(v) for v in person.head_box)
                ann["bbox_head"] = [x1, y1, _width(x1, x2), _width(y1, y2)]
            if person.score is not None:
                ann["score"] = float(person.score)
            annotations.append(ann)
    return _file_dict(seq, own, images, annotations)
