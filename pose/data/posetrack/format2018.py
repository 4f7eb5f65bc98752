"""PoseTrack 2018 files (COCO-like ``images`` / ``annotations`` / ``categories``): the reader and the writer."""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose.data.posetrack.checks import (_REAL_TYPES, _Context, _check_file_name, _check_image, _check_track_id,
                                        _check_unique_track_ids, _is_int)
from pose.data.posetrack.types import (
    FrameAnnotation,
    MAX_TRACK_ID,
    NUM_JOINTS,
    PersonAnnotation,
    PoseTrackSequence,
    _ANN18_KEYS,
    _IMAGE18_KEYS,
    _P17_TO_P18,
    _SKELETON_18,
    parse_file_name,
    posetrack_image_id,
)
from pose.keypoints import POSETRACK17_JOINTS, POSETRACK18_JOINTS


def _category_mapping(data: dict, ctx: _Context) -> np.ndarray:
    """(K_file,) index into POSETRACK18 for every keypoint named by the file's category."""
    cats = data.get("categories")
    if not isinstance(cats, list) or len(cats) != 1 or not isinstance(cats[0], dict):
        raise ctx.error("'categories' must be a list with exactly one 'person' category (poseval asserts it)",
                        "write the person category with the 17 PoseTrack keypoint names", field_name="categories")
    names = cats[0].get("keypoints")
    if cats[0].get("name") != "person":
        raise ctx.error(f"'categories[0].name' is {cats[0].get('name')!r}, not 'person'",
                        "name the category 'person'", field_name="categories")
    if (not isinstance(names, list) or len(names) not in (15, NUM_JOINTS) or len(set(map(str, names))) != len(names)
            or any(n not in POSETRACK18_JOINTS for n in names)
            or any(n not in names for n in POSETRACK17_JOINTS)):
        raise ctx.error(f"'categories[0].keypoints' is {names!r}, not the 17 (or 15) PoseTrack keypoint names",
                        "use " + ", ".join(POSETRACK18_JOINTS), field_name="categories")
    return np.array([POSETRACK18_JOINTS.index(n) for n in names], dtype=np.int64)


def _read_2018(data: dict, path: Path, role: str, check_file_names: bool,
               lenient: bool = False) -> PoseTrackSequence:
    ctx = _Context(path, lenient)
    images = data["images"]
    if not isinstance(images, list) or not images:
        raise ctx.error("'images' is empty or not a list", "list every frame of the sequence", field_name="images")
    annotations = data.get("annotations")
    if not isinstance(annotations, list):
        raise ctx.error("has no 'annotations' list", "write 'annotations': [] when there are no people",
                        field_name="annotations")
    mapping = _category_mapping(data, ctx)
    k_file = len(mapping)

    frames: list[FrameAnnotation] = []
    frame_of_id: dict[int, int] = {}
    folder0 = None
    for i, img in enumerate(images):
        image_id = img.get("id") if isinstance(img, dict) else None
        fname = _check_image(img, image_id, frame_of_id, ctx, i)
        if check_file_names:
            folder0 = _check_file_name(fname, folder0, ctx, i, "file_name")
        regions = _regions_2018(img, ctx, i, fname)
        labeled = img.get("is_labeled")
        extra = {k: v for k, v in img.items() if k not in _IMAGE18_KEYS}
        if labeled is not None and not isinstance(labeled, (bool, int)):
            raise ctx.error(f"'is_labeled' is {labeled!r}, not a boolean", frame=i, file_name=fname,
                            field_name="is_labeled")
        frames.append(FrameAnnotation(fname, image_id, labeled, [], regions, extra))

    _read_annotations_2018(annotations, frames, frame_of_id, mapping, k_file, ctx, role)
    for frame in frames:  # a file without 'is_labeled': frames with people are the labeled ones
        frame.is_labeled = bool(frame.people) if frame.is_labeled is None else bool(frame.is_labeled)
    for i, frame in enumerate(frames):
        _check_unique_track_ids(frame, ctx, i)
    extra = {k: v for k, v in data.items() if k not in ("images", "annotations")}
    return PoseTrackSequence(path.stem, frames, "2018", extra)


def _regions_2018(img: dict, ctx: _Context, i: int, fname: str) -> list[np.ndarray]:
    xs, ys = img.get("ignore_regions_x", []), img.get("ignore_regions_y", [])
    if not isinstance(xs, list) or not isinstance(ys, list) or len(xs) != len(ys):
        raise ctx.error("'ignore_regions_x' and 'ignore_regions_y' are not two lists of the same length",
                        "write one x list and one y list per polygon", frame=i, file_name=fname,
                        field_name="ignore_regions_x")
    regions = []
    for r, (px, py) in enumerate(zip(xs, ys)):
        ax, ay = ctx.numbers(px, None), ctx.numbers(py, None)
        if ax is None or ay is None or len(ax) != len(ay):
            raise ctx.error(f"ignore region {r} has x and y lists that are not numbers of equal length",
                            "write one x and one y per polygon vertex", frame=i, file_name=fname,
                            field_name="ignore_regions_x")
        if 0 < len(ax) < 3:
            raise ctx.error(f"ignore region {r} has {len(ax)} vertices", "a polygon needs at least 3 (poseval's "
                            "shapely cannot build it)", frame=i, file_name=fname, field_name="ignore_regions_x")
        regions.append(np.stack([ax, ay], axis=1))
    return regions


def _read_annotations_2018(annotations: list, frames: list[FrameAnnotation], frame_of_id: dict[int, int],
                           mapping: np.ndarray, k_file: int, ctx: _Context, role: str) -> None:
    """Reads every annotation into its frame. A file passing the whole-array checks of ``_annotation_columns``
    (the usual case) is read without a per-value check; any other goes through ``_read_annotations_checked``,
    which names the first bad value."""
    columns = _annotation_columns(annotations, frame_of_id, k_file, ctx)
    if columns is None or not _attach_columns(columns, frames, mapping, k_file, role):
        _read_annotations_checked(annotations, frames, frame_of_id, mapping, k_file, ctx, role)


def _real_lists(values: list, count: int, lenient: bool) -> np.ndarray | None:
    """(N, count) float64 of N lists of ``count`` JSON numbers (finite unless lenient), or None otherwise."""
    if not values:
        return np.zeros((0, count))
    if not {list}.issuperset(map(type, values)) or {count} != set(map(len, values)):
        return None
    if not _REAL_TYPES.issuperset(map(type, itertools.chain.from_iterable(values))):
        return None
    try:
        array = np.array(values, dtype=np.float64)
    except OverflowError:  # an integer beyond the float range
        return None
    return array if lenient or np.isfinite(array).all() else None


def _optional_rows(column: list, count: int, lenient: bool, empty_is_none: bool = False):
    """(given (N,) bool, rows (N, count) float64) of a column whose entries are None (or [] when
    ``empty_is_none``) or lists of ``count`` numbers; None when an entry is anything else."""
    given = np.array([v is not None and not (empty_is_none and v == []) for v in column], dtype=bool)
    values = _real_lists([v for v, g in zip(column, given.tolist()) if g], count, lenient)
    if values is None:
        return None
    rows = np.zeros((len(column), count))
    rows[given] = values
    return given, rows


def _annotation_columns(annotations: list, frame_of_id: dict[int, int], k_file: int, ctx: _Context):
    """Every annotation's fields as columns, checked whole-array at a time; None when any check fails (bad
    types, counts or values, an unknown image id, a track id >= MAX_TRACK_ID, a non-finite number)."""
    if not {dict}.issuperset(map(type, annotations)):
        return None
    image_ids = [a.get("image_id") for a in annotations]
    track_ids = [a.get("track_id") for a in annotations]
    if not {int}.issuperset(map(type, image_ids)) or not {int}.issuperset(map(type, track_ids)):
        return None  # also a missing track id (None)
    if track_ids and max(track_ids) >= MAX_TRACK_ID:
        return None
    frame_index = [frame_of_id.get(i) for i in image_ids]
    if None in frame_index:
        return None
    keypoints = [a.get("keypoints") for a in annotations]
    if not {list}.issuperset(map(type, keypoints)) or not {3 * k_file}.issuperset(map(len, keypoints)):
        return None
    try:
        raw = np.array(keypoints, dtype=np.float64).reshape(len(annotations), k_file, 3)
    except (TypeError, ValueError, OverflowError):
        return None
    if not ctx.lenient and not np.isfinite(raw).all():
        return None
    scores = _optional_rows([a.get("scores") for a in annotations], k_file, ctx.lenient, empty_is_none=True)
    heads = _optional_rows([a.get("bbox_head") for a in annotations], 4, ctx.lenient)
    boxes = _optional_rows([a.get("bbox") for a in annotations], 4, ctx.lenient)
    person_scores = [a.get("score") for a in annotations]
    given_scores = [v for v in person_scores if v is not None]
    if scores is None or heads is None or boxes is None or not _REAL_TYPES.issuperset(map(type, given_scores)):
        return None
    try:
        if not ctx.lenient and not all(map(math.isfinite, given_scores)):
            return None
    except OverflowError:
        return None
    return _Columns(annotations, frame_index, track_ids, raw, scores, heads, boxes, person_scores)


@dataclass(frozen=True)
class _Columns:
    """The checked fields of N annotations. raw (N, K_file, 3); scores / heads / boxes: (given (N,), rows)."""

    annotations: list
    frame_index: list
    track_ids: list
    raw: np.ndarray
    scores: tuple
    heads: tuple
    boxes: tuple
    person_scores: list


def _attach_columns(columns: _Columns, frames: list[FrameAnnotation], mapping: np.ndarray, k_file: int,
                    role: str) -> bool:
    """Adds a PersonAnnotation per annotation to its frame; False (nothing added) where a role check fails."""
    n = len(columns.annotations)
    keypoints = np.zeros((n, NUM_JOINTS, 3))
    keypoints[:, mapping] = columns.raw
    has_scores, score_rows = columns.scores
    has_head, head_rows = columns.heads
    has_box, box_rows = columns.boxes
    annotated = np.any(keypoints[:, _P17_TO_P18] != 0, axis=(1, 2))
    if (role == "pred" and np.any(annotated & ~has_scores)) or (role == "gt" and np.any(annotated & ~has_head)):
        return False  # the checked reader names the person
    scores = np.zeros((n, NUM_JOINTS))
    scores[:, mapping] = score_rows
    head_rows = np.concatenate([head_rows[:, :2], head_rows[:, :2] + head_rows[:, 2:]], axis=1)  # x1, y1, x2, y2
    rows = zip(columns.annotations, columns.frame_index, columns.track_ids, keypoints, scores, head_rows, box_rows,
               has_scores.tolist(), has_head.tolist(), has_box.tolist(), columns.person_scores)
    for ann, i, track_id, kp, sc, head, box, with_scores, with_head, with_box, score in rows:
        extra = {k: v for k, v in ann.items() if k not in _ANN18_KEYS or v is None or v == []}
        for key in ("track_id", "image_id", "keypoints"):
            extra.pop(key, None)
        frames[i].people.append(PersonAnnotation(track_id, kp, sc if with_scores else None,
                                                 head if with_head else None, box if with_box else None,
                                                 None if score is None else float(score), extra))
    return True


def _read_annotations_checked(annotations: list, frames: list[FrameAnnotation], frame_of_id: dict[int, int],
                           mapping: np.ndarray, k_file: int, ctx: _Context, role: str) -> None:
    """Validates every annotation value by value (raising on the first bad one), then fills all keypoints with one
    vectorised reorder."""
    owners: list[tuple[int, int, PersonAnnotation]] = []  # (frame index, annotation index, person)
    flat_all: list = []
    for a, ann in enumerate(annotations):
        where = f"annotation {a}"
        if not isinstance(ann, dict):
            raise ctx.error(f"'annotations[{a}]' is not an object", field_name="annotations")
        image_id = ann.get("image_id")
        i = frame_of_id.get(image_id) if _is_int(image_id) else None
        if i is None and ctx.lenient:  # poseval's convert.py attaches annotations image by image: never read
            continue
        if i is None:
            raise ctx.error(f"'image_id' {image_id!r} matches no entry of 'images'",
                            "every annotation must point to an image id of this file", where=where,
                            field_name="image_id")
        fname = frames[i].file_name
        err = dict(frame=i, file_name=fname, where=where)
        track_id = ann.get("track_id")
        if "track_id" not in ann:
            raise ctx.error("'track_id' is missing (poseval reads it also for predictions)",
                            "give every person an integer track id", field_name="track_id", **err)
        _check_track_id(track_id, ctx, "track_id", err)
        flat = ann.get("keypoints")
        if not isinstance(flat, list) or len(flat) != 3 * k_file:
            got = len(flat) if isinstance(flat, list) else type(flat).__name__
            raise ctx.error(f"'keypoints' has {got} values, expected {3 * k_file} (x, y, v for each of the "
                            f"{k_file} category keypoints)", "write absent joints as 0, 0, 0",
                            field_name="keypoints", **err)
        scores = ann.get("scores")
        if ctx.lenient and isinstance(scores, list) and len(scores) > k_file:
            scores = scores[:k_file]  # poseval reads scores[k] for the k_file keypoints only
        score_arr = None
        if scores is not None and scores != []:
            score_arr = ctx.numbers(scores, k_file)
            if score_arr is None:
                got = len(scores) if isinstance(scores, list) else type(scores).__name__
                raise ctx.error(f"'scores' has {got} entries or non-numbers, expected {k_file} numbers "
                                "(one per category keypoint)", "write one finite score per joint",
                                field_name="scores", **err)
        head = None
        if ann.get("bbox_head") is not None:
            head = ctx.numbers(ann["bbox_head"], 4)
            if head is None:
                raise ctx.error(f"'bbox_head' is {ann['bbox_head']!r}, not 4 numbers [x, y, w, h]",
                                field_name="bbox_head", **err)
            head = np.array([head[0], head[1], head[0] + head[2], head[1] + head[3]])
        bbox = None
        if ann.get("bbox") is not None:
            bbox = ctx.numbers(ann["bbox"], 4)
            if bbox is None:
                raise ctx.error(f"'bbox' is {ann['bbox']!r}, not 4 numbers [x, y, w, h]", field_name="bbox", **err)
        score = ann.get("score")
        if score is not None and not ctx.is_number(score):
            raise ctx.error(f"'score' is {score!r}, not a finite number", field_name="score", **err)
        extra = {k: v for k, v in ann.items() if k not in _ANN18_KEYS or ann[k] is None or ann[k] == []}
        for key in ("track_id", "image_id", "keypoints"):
            extra.pop(key, None)
        person = PersonAnnotation(track_id, None, score_arr, head, bbox,  # keypoints filled below
                                  None if score is None else float(score), extra)
        owners.append((i, a, person))
        flat_all.append(flat)

    if owners:
        try:
            raw = np.array(flat_all, dtype=np.float64).reshape(len(owners), k_file, 3)
        except (TypeError, ValueError):
            raw = None
        if raw is None or (not ctx.lenient and not np.all(np.isfinite(raw))):
            bad = next((n for n, f in enumerate(flat_all) if ctx.numbers(f, None) is None), 0)
            i, a, _ = owners[bad]
            at = next((m for m, v in enumerate(flat_all[bad]) if not ctx.is_number(v)), 0)
            raise ctx.error(f"'keypoints' value {at} is {flat_all[bad][at]!r}, not a finite number",
                            "write numbers only (absent joints as 0, 0, 0)", frame=i,
                            file_name=frames[i].file_name, where=f"annotation {a}", field_name="keypoints")
        keypoints = np.zeros((len(owners), NUM_JOINTS, 3))
        keypoints[:, mapping] = raw
        for n, (i, a, person) in enumerate(owners):
            person.keypoints = keypoints[n]
            if person.scores is not None:
                scores = np.zeros(NUM_JOINTS)
                scores[mapping] = person.scores
                person.scores = scores
            if role == "pred" and person.scores is None and np.any(keypoints[n][_P17_TO_P18] != 0):
                raise ctx.error("'scores' is missing or empty on a prediction",
                                f"write {k_file} per-joint scores (poseval ranks joints by them)",
                                frame=i, file_name=frames[i].file_name, where=f"annotation {a}",
                                field_name="scores")
            if role == "gt" and person.head_box is None and np.any(keypoints[n][_P17_TO_P18] != 0):
                raise ctx.error("'bbox_head' is missing on a ground-truth person with annotated joints",
                                "poseval normalises distances by the head box; write [x, y, w, h]",
                                frame=i, file_name=frames[i].file_name, where=f"annotation {a}",
                                field_name="bbox_head")
            frames[i].people.append(person)


def _width(a: float, b: float) -> float:
    """b - a as written in a file, such that a + width == b again (decimal-looking when possible)."""
    exact = b - a
    short = float(f"{exact:.12g}")
    if a + short == b:
        return short
    return exact


def _flat_keypoints(keypoints: np.ndarray) -> list:
    """(17, 3) -> flat [x, y, v, ...] with integral visibilities written as ints."""
    xy = keypoints[:, :2].tolist()
    v = keypoints[:, 2]
    vis = v.astype(np.int64).tolist() if np.all(v == np.round(v)) else v.tolist()
    return [c for (x, y), vv in zip(xy, vis) for c in (x, y, vv)]


def _default_category() -> dict:
    return {"supercategory": "person", "id": 1, "name": "person", "keypoints": list(POSETRACK18_JOINTS),
            "skeleton": [list(s) for s in _SKELETON_18]}


def _sequence_fields(file_name: str, name: str) -> tuple[str, int | None]:
    """(vid_id, image id) poseval would derive, or (name, None) for unparsable names."""
    try:
        folder, video, _, _ = parse_file_name(file_name)
        return folder.split("_")[0], posetrack_image_id(file_name)
    except ValueError:
        return name, None


def to_posetrack18_dict(seq: PoseTrackSequence) -> dict:
    """The 2018 JSON object of a sequence (``extra`` fields kept when the sequence came from a 2018 file)."""
    own = seq.source_format == "2018"
    images, annotations = [], []
    for frame in seq.frames:
        vid_id, _ = _sequence_fields(frame.file_name, seq.name)
        img = dict(frame.extra) if own else {}
        img["file_name"] = frame.file_name
        img["id"] = int(frame.image_id)
        img.setdefault("frame_id", int(frame.image_id))
        img.setdefault("vid_id", vid_id)
        img.setdefault("nframes", len(seq.frames))
        img["is_labeled"] = bool(frame.is_labeled)
        img.setdefault("has_no_densepose", True)
        img["ignore_regions_x"] = [r[:, 0].tolist() for r in frame.ignore_regions]
        img["ignore_regions_y"] = [r[:, 1].tolist() for r in frame.ignore_regions]
        images.append(img)
        for n, person in enumerate(frame.people):
            ann = dict(person.extra) if own else {}
            ann.setdefault("id", int(frame.image_id) * 100 + n)  # poseval convert.py's annotation ids
            ann["image_id"] = int(frame.image_id)
            ann["track_id"] = int(person.track_id)
            ann.setdefault("category_id", 1)
            ann["keypoints"] = _flat_keypoints(person.keypoints)
            if person.scores is not None:
                # a 2017 point without score holds 0, as poseval's convert.py writes a missing score
                ann["scores"] = np.asarray(person.scores, dtype=np.float64).tolist()
            else:
                ann.setdefault("scores", [])
            if person.head_box is not None:
                x1, y1, x2, y2 = (float(v) for v in person.head_box)
                ann["bbox_head"] = [x1, y1, _width(x1, x2), _width(y1, y2)]
            if person.bbox is not None:
                ann["bbox"] = np.asarray(person.bbox, dtype=np.float64).tolist()
            if person.score is not None:
                ann["score"] = float(person.score)
            annotations.append(ann)
    return _file_dict(seq, own, images, annotations)


def _file_dict(seq: PoseTrackSequence, own: bool, images: list, annotations: list) -> dict:
    """A 2018 / PoseTrack21 file: the sequence's own top-level fields (``own``: it was read in this format), its
    single PoseTrack category (the standard one unless it has exactly that), ``images`` and ``annotations``."""
    out = dict(seq.extra) if own else {}
    cats = out.get("categories")
    if not (isinstance(cats, list) and len(cats) == 1 and isinstance(cats[0], dict)
            and cats[0].get("keypoints") == list(POSETRACK18_JOINTS)):
        out["categories"] = [_default_category()]
    out["images"] = images
    out["annotations"] = annotations
    return out
