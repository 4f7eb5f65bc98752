"""PoseTrack 2017 files (``annolist`` of frames with ``annorect`` people): the reader and the writer."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from pose.data.posetrack.checks import (
    _Context,
    _check_file_name,
    _check_track_id,
    _check_unique_track_ids,
    _is_int,
    _one,
    _single,
)
from pose.data.posetrack.types import (
    FrameAnnotation,
    NUM_JOINTS,
    PersonAnnotation,
    PoseTrackSequence,
    _FRAME17_KEYS,
    _FRAME_RE,
    _P17_TO_P18_LIST,
    _P18_TO_P17,
    _RECT17_KEYS,
    posetrack_image_id,
)
from pose.keypoints import POSETRACK17_JOINTS


def _read_2017(data: dict, path: Path, role: str, check_file_names: bool,
               lenient: bool = False) -> PoseTrackSequence:
    ctx = _Context(path, lenient)
    annolist = data["annolist"]
    if not isinstance(annolist, list) or not annolist:
        raise ctx.error("'annolist' is empty or not a list", "list every frame of the sequence",
                        field_name="annolist")
    frames = []
    folder0 = None
    for i, entry in enumerate(annolist):
        if not isinstance(entry, dict):
            raise ctx.error(f"'annolist[{i}]' is not an object", frame=i, file_name="?", field_name="annolist")
        image = _single(entry.get("image"), lambda v: isinstance(v, dict) and isinstance(v.get("name"), str))
        if image is None:
            raise ctx.error("'image' is not a one-element list [{\"name\": ...}]", "name the frame's image",
                            frame=i, file_name="?", field_name="image")
        fname = image["name"]
        if check_file_names:
            folder0 = _check_file_name(fname, folder0, ctx, i, "image.name")
            image_id = posetrack_image_id(fname)
        else:
            image_id = i
        rects = entry.get("annorect")
        if not isinstance(rects, list):
            raise ctx.error("'annorect' is missing or not a list", "write 'annorect': [] for a frame without people",
                            frame=i, file_name=fname, field_name="annorect")
        people = [_person_2017(r, ctx, role, dict(frame=i, file_name=fname, where=f"annorect {j}"))
                  for j, r in enumerate(rects)]
        regions = _regions_2017(entry.get("ignore_regions", []), ctx, i, fname)
        labeled_raw = entry.get("is_labeled")
        if labeled_raw is None:
            labeled = bool(people)
        else:
            labeled = _single(labeled_raw, lambda v: isinstance(v, (int, bool)))
            if labeled is None:
                raise ctx.error(f"'is_labeled' is {labeled_raw!r}, not [0] or [1]", frame=i, file_name=fname,
                                field_name="is_labeled")
        extra = {k: v for k, v in entry.items() if k not in _FRAME17_KEYS}
        image_extra = {k: v for k, v in image.items() if k != "name"}
        if image_extra:  # other keys of image[0], written back into it
            extra["image_extra"] = image_extra
        frame = FrameAnnotation(fname, image_id, bool(labeled), people, regions, extra)
        _check_unique_track_ids(frame, ctx, i)
        frames.append(frame)
    extra = {k: v for k, v in data.items() if k != "annolist"}
    return PoseTrackSequence(path.stem, frames, "2017", extra)


def _regions_2017(regions: Any, ctx: _Context, i: int, fname: str) -> list[np.ndarray]:
    out = []
    if not isinstance(regions, list):
        raise ctx.error("'ignore_regions' is not a list", frame=i, file_name=fname, field_name="ignore_regions")
    for r, region in enumerate(regions):
        points = region.get("point") if isinstance(region, dict) else None
        if not isinstance(points, list):
            raise ctx.error(f"ignore region {r} has no 'point' list", frame=i, file_name=fname,
                            field_name="ignore_regions")
        xy = [(_single(p.get("x"), ctx.is_number), _single(p.get("y"), ctx.is_number)) if isinstance(p, dict)
              else (None, None) for p in points]
        if any(x is None or y is None for x, y in xy):
            raise ctx.error(f"ignore region {r} has a point without one-number 'x' and 'y' lists", frame=i,
                            file_name=fname, field_name="ignore_regions")
        if 0 < len(xy) < 3:
            raise ctx.error(f"ignore region {r} has {len(xy)} vertices", "a polygon needs at least 3 (poseval's "
                            "shapely cannot build it)", frame=i, file_name=fname, field_name="ignore_regions")
        out.append(np.array(xy, dtype=np.float64).reshape(-1, 2))
    return out


def _person_2017(rect: Any, ctx: _Context, role: str, err: dict) -> PersonAnnotation:
    if not isinstance(rect, dict):
        raise ctx.error("is not an object", field_name="annorect", **err)
    track_id = _single(rect.get("track_id"), lambda v: True)
    if track_id is None:
        raise ctx.error(f"'track_id' is {rect.get('track_id')!r}, not a one-element list [id]",
                        "give every person an integer track id", field_name="track_id", **err)
    _check_track_id(track_id, ctx, "track_id", err)
    annopoints = rect.get("annopoints")
    points = []
    if annopoints:
        if (not isinstance(annopoints, list) or not isinstance(annopoints[0], dict)
                or not isinstance(annopoints[0].get("point", []), list)):
            raise ctx.error("'annopoints' is not [{\"point\": [...]}]", field_name="annopoints", **err)
        points = annopoints[0].get("point", [])
    rows = []  # (POSETRACK18 index, x, y, v, score) per listed point
    seen = set()
    for p in points:
        jid = _one(p.get("id")) if isinstance(p, dict) else None
        if not _is_int(jid) or not 0 <= jid < len(POSETRACK17_JOINTS):
            raise ctx.error(f"a point has 'id' {p.get('id') if isinstance(p, dict) else p!r}, not [0..14]",
                            "use poseval's 15 joint ids", field_name="annopoints.point.id", **err)
        if jid in seen:
            raise ctx.error(f"joint id {jid} appears twice", field_name="annopoints.point.id", **err)
        seen.add(jid)
        x, y = _one(p.get("x")), _one(p.get("y"))
        if not (ctx.is_number(x) and ctx.is_number(y)):
            raise ctx.error(f"joint {jid} has no one-number 'x' and 'y' lists", field_name="annopoints.point.x",
                            **err)
        v = _one(p["is_visible"]) if "is_visible" in p else 1  # poseval's default when it is absent
        if not ctx.is_number(v):
            raise ctx.error(f"joint {jid} has 'is_visible' {p['is_visible']!r}, not [number]",
                            field_name="annopoints.point.is_visible", **err)
        score = 0.0
        if "score" in p:
            score = _one(p["score"])
            if not ctx.is_number(score):
                raise ctx.error(f"joint {jid} has 'score' {p['score']!r}, not [number]",
                                field_name="annopoints.point.score", **err)
        elif role == "pred":
            raise ctx.error(f"joint {jid} of a prediction has no 'score'", "write a score on every point",
                            field_name="annopoints.point.score", **err)
        rows.append((_P17_TO_P18_LIST[jid], x, y, v, score, "score" in p))
    keypoints = np.zeros((NUM_JOINTS, 3))
    scores = None
    listed = scored = None
    if rows:
        table = np.array([r[:5] for r in rows], dtype=np.float64)
        index = table[:, 0].astype(np.int64)
        keypoints[index] = table[:, 1:4]
        have_score = np.array([r[5] for r in rows], dtype=bool)
        if have_score.any():
            scores = np.zeros(NUM_JOINTS)  # listed points without a score (possible outside role "pred") hold 0
            scores[index[have_score]] = table[have_score, 4]
            if not have_score.all():  # ... and are marked: poseval ranks them at -9999
                scored = np.zeros(NUM_JOINTS, bool)
                scored[index[have_score]] = True
        if np.any(np.all(table[:, 1:4] == 0, axis=1)):  # a listed point at 0, 0 with is_visible 0
            listed = np.zeros(NUM_JOINTS, bool)
            listed[index] = True
    head = None
    if any(k in rect for k in ("x1", "y1", "x2", "y2")):
        values = [_single(rect.get(k), ctx.is_number) for k in ("x1", "y1", "x2", "y2")]
        for key, value in zip(("x1", "y1", "x2", "y2"), values):
            if value is None:
                what = "is missing" if key not in rect else f"is {rect[key]!r}, not [number]"
                raise ctx.error(f"head box field '{key}' {what}", "write x1, y1, x2, y2 as one-number lists",
                                field_name=key, **err)
        head = np.array(values, dtype=np.float64)
    elif role == "gt" and seen:
        raise ctx.error("the head box 'x1', 'y1', 'x2', 'y2' is missing on a ground-truth person",
                        "poseval normalises distances by the head box", field_name="x1", **err)
    score = None
    if "score" in rect:
        score = _single(rect["score"], ctx.is_number)
        if score is None:
            raise ctx.error(f"'score' is {rect['score']!r}, not [number]", field_name="score", **err)
        score = float(score)
    extra = {k: v for k, v in rect.items() if k not in _RECT17_KEYS}
    if not rows and "annopoints" in rect:  # kept as it was: poseval drops a rect only without 'point'
        extra["annopoints"] = rect["annopoints"]
    return PersonAnnotation(track_id, keypoints, scores, head, None, score, extra, listed, scored)


def to_posetrack17_dict(seq: PoseTrackSequence) -> dict:
    """The 2017 ``annolist`` object of a sequence (poseval's 15 joints; the ears are dropped).

    ``is_visible`` is written for persons without scores (ground truth) and for scored points whose
    ``v`` is not 1; readers, poseval included, take a missing ``is_visible`` as 1.
    """
    own = seq.source_format == "2017"
    annolist = []
    for frame in seq.frames:
        entry = {k: v for k, v in frame.extra.items() if k != "image_extra"} if own else {}
        image = {"name": frame.file_name}
        if own:
            image.update(frame.extra.get("image_extra", {}))
        entry["image"] = [image]
        if "imgnum" not in entry:
            match = _FRAME_RE.match(os.path.basename(frame.file_name))
            # poseval convert.py: imgnum = frame number + 1
            entry["imgnum"] = [int(match.group(1)) + 1 if match else len(annolist) + 1]
        entry["annorect"] = [_rect_2017(p, own) for p in frame.people]
        entry["is_labeled"] = [int(bool(frame.is_labeled))]
        if frame.ignore_regions:
            entry["ignore_regions"] = [
                {"point": [{"x": [x], "y": [y]} for x, y in r.tolist()]} for r in frame.ignore_regions]
        annolist.append(entry)
    out = dict(seq.extra) if own else {}
    out["annolist"] = annolist
    return out


def _rect_2017(person: PersonAnnotation, own: bool) -> dict:
    rect = dict(person.extra) if own else {}
    rect["track_id"] = [int(person.track_id)]
    # listed joints: present and not an ear, in POSETRACK18 order as poseval convert.py writes them
    index = np.flatnonzero(person.present & (_P18_TO_P17 >= 0))
    ids = _P18_TO_P17[index].tolist()
    xyv = person.keypoints[index].tolist()
    scores = None if person.scores is None else np.asarray(person.scores, dtype=np.float64)[index].tolist()
    scored = [True] * len(index) if person.scored is None else np.asarray(person.scored, bool)[index].tolist()
    points = []
    for n, (jid, (x, y, v)) in enumerate(zip(ids, xyv)):
        point = {"id": [jid], "x": [x], "y": [y]}
        if scores is not None and scored[n]:
            point["score"] = [scores[n]]
        if scores is None or v != 1:
            point["is_visible"] = [int(v) if v == int(v) else v]
        points.append(point)
    if points or not own:  # a point-less 2017 person keeps its own 'annopoints' (or none) from extra
        rect["annopoints"] = [{"point": points}]
    if person.head_box is not None:
        for key, value in zip(("x1", "y1", "x2", "y2"), person.head_box):
            rect[key] = [float(value)]
    if person.score is not None:
        rect["score"] = [float(person.score)]
    return rect
