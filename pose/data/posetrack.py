"""PoseTrack 2017 (``annolist``) and 2018 (COCO-like) annotation files: read, validate, write, convert.

One file holds one video sequence. Training, the tracker and the evaluator all go through this module, so
a file that reads here is one the official evaluator (poseval) accepts, and what the writers produce is
what poseval expects:

- 2018: ``images`` (``file_name``, ``id``, ``frame_id``, ``vid_id``, ``nframes``, ``is_labeled``,
  ``ignore_regions_x/_y``), ``annotations`` (``image_id``, ``track_id``, ``keypoints`` flat ``x, y, v`` per
  joint, ``scores`` per joint for predictions, ``bbox_head`` ``[x, y, w, h]`` for ground truth, ``bbox``)
  and ``categories`` (one ``person`` category naming the keypoints).
- 2017: ``annolist`` of frames (``image[0].name``, ``imgnum``, ``is_labeled``, ``ignore_regions``), each with
  ``annorect`` persons (``track_id``, head box ``x1 y1 x2 y2``, ``annopoints[0].point`` with joint ``id`` in
  poseval's 15-joint order, ``x``, ``y``, ``is_visible`` or ``score``).

In memory a sequence is a :class:`PoseTrackSequence` of :class:`FrameAnnotation` of
:class:`PersonAnnotation`, keypoints always ``(17, 3)`` ``x, y, v`` in ``pose.keypoints.POSETRACK18`` order.
A joint is *absent* when it is ``0, 0, 0`` (poseval drops exactly those; ``v == 0`` with non-zero
coordinates still counts). Fields the reader does not model stay in ``extra`` and are written back when the
sequence is written in its own format; converting to the other format keeps every field poseval reads.

What each role requires (poseval's own requirements, plus the ones that make a valid submission):

==================  =====================================================================================
always              a JSON object; 2018: ``images`` (non-empty), ``annotations``, one ``person`` category
                    whose keypoint names are the 17 (or 15) PoseTrack names; every image a ``file_name``
                    of the form ``.../<digits>_<mpii|bonn|mpiinew>[_...]/<int>.jpg`` (poseval parses it),
                    one sequence folder per file, unique image ids; every person an integer
                    ``track_id < 10000`` (poseval asserts ``< 10000`` and offsets ids by 10000 per
                    file; negative ids pass there too), unique within its frame; 3 numbers per
                    keypoint, finite.
``role="gt"``       a head box (2018 ``bbox_head``, 2017 ``x1 y1 x2 y2``) on every person with an annotated
                    joint (poseval's head size normalises every distance).
``role="pred"``     per-joint scores on every person with an evaluated joint: 2018 ``scores`` with one
                    number per keypoint name, 2017 ``score`` on every point. poseval itself only
                    warns ("this will not be a valid submission") and ranks score-less joints at
                    -9999, which makes AP meaningless, so this reader refuses them. A non-empty
                    ``scores`` list of another length would crash poseval: refused in every role.
``role="any"``      only the checks of "always"; scores and head boxes are validated when present.
==================  =====================================================================================

``python -m pose.data.posetrack check FILE...`` validates files and ``convert SRC DST --format 2017|2018``
converts one file (or every ``*.json`` of a folder); ``--format 21`` and PoseTrack21 input go through
``pose.data.posetrack21``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from pose.fileio import write_json_atomic
from pose.keypoints import (
    POSETRACK17_JOINTS,
    POSETRACK18_JOINTS,
    POSETRACK18_PLACEHOLDERS,
)

NUM_JOINTS = len(POSETRACK18_JOINTS)  # 17
# poseval asserts track_id < 10000 and adds 10000 * (file index) to make ids unique across files.
MAX_TRACK_ID = 10000
# poseval's posetrack18_fname2id: sequence types and their image-id digit.
SEQUENCE_TYPES = {"mpii": 1, "bonn": 2, "mpiinew": 3}
ROLES = ("gt", "pred", "any")

# Index in POSETRACK18 of every 2017 joint id (poseval's 15-joint order).
_P17_TO_P18 = np.array([POSETRACK18_JOINTS.index(name) for name in POSETRACK17_JOINTS], dtype=np.int64)
# 2017 id of every POSETRACK18 joint, -1 for the ears.
_P18_TO_P17 = np.array(
    [POSETRACK17_JOINTS.index(n) if n in POSETRACK17_JOINTS else -1 for n in POSETRACK18_JOINTS], dtype=np.int64
)
_P17_TO_P18_LIST = _P17_TO_P18.tolist()
_PLACEHOLDER_IDX = np.array([POSETRACK18_JOINTS.index(n) for n in POSETRACK18_PLACEHOLDERS], dtype=np.int64)

# The category official PoseTrack18 files carry (poseval convert.py writes the same skeleton, 1-based).
_SKELETON_18 = [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8], [7, 9],
                [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7]]

_SEQ_DIR_RE = re.compile(r"([0-9]+)_(mpii|bonn|mpiinew)(_.*)?\Z", re.DOTALL)
_FRAME_RE = re.compile(r"([0-9]+)(\..*)?\Z", re.DOTALL)

# Keys each reader models; everything else of an object goes to ``extra``.
_IMAGE18_KEYS = {"file_name", "id", "is_labeled", "ignore_regions_x", "ignore_regions_y"}
_ANN18_KEYS = {"image_id", "track_id", "keypoints", "scores", "bbox_head", "bbox", "score"}
_FRAME17_KEYS = {"image", "annorect", "is_labeled", "ignore_regions"}
_RECT17_KEYS = {"track_id", "annopoints", "x1", "y1", "x2", "y2", "score"}


class PoseTrackFormatError(ValueError):
    """A PoseTrack file that cannot be used; the message names the file, the frame and the field."""

    def __init__(self, message: str, path: str | os.PathLike | None = None, frame_index: int | None = None,
                 file_name: str | None = None, field: str | None = None):
        super().__init__(message)
        self.path = None if path is None else str(path)
        self.frame_index = frame_index
        self.file_name = file_name
        self.field = field


@dataclass
class PersonAnnotation:
    """One person in one frame.

    keypoints: (17, 3) float64 ``x, y, v`` in POSETRACK18 order; absent joints are ``0, 0, 0``.
    scores: (17,) float64 per-joint confidence, or None (ground truth).
    head_box: (4,) ``x1, y1, x2, y2`` or None. bbox: (4,) ``x, y, w, h`` or None. score: person score or None.
    listed: (17,) bool or None. Set only for a 2017 person listing a point at ``x = y = 0`` with
    ``is_visible`` 0: poseval reads 2017 files without converting them, so such a point counts although its
    keypoint row is ``0, 0, 0``. None means "the joints that are not ``0, 0, 0``".
    scored: (17,) bool or None. Set only for a 2017 person some of whose points have a ``score`` and some not:
    the joints that have one (the others hold 0 in ``scores``; poseval ranks them at -9999). None means
    "every joint", when ``scores`` is set.
    """

    track_id: int
    keypoints: np.ndarray
    scores: np.ndarray | None = None
    head_box: np.ndarray | None = None
    bbox: np.ndarray | None = None
    score: float | None = None
    extra: dict = field(default_factory=dict)
    listed: np.ndarray | None = None
    scored: np.ndarray | None = None

    @property
    def present(self) -> np.ndarray:
        """(17,) bool: joints poseval counts (anything but ``0, 0, 0``, or the ``listed`` joints of 2017)."""
        if self.listed is not None:
            return np.asarray(self.listed, dtype=bool)
        return np.any(self.keypoints != 0, axis=1)


@dataclass
class FrameAnnotation:
    """One image of a sequence. ignore_regions: polygons, each (M, 2) float64 ``x, y``.

    extra: the image's other fields (2018: ``frame_id``, ``vid_id``, ``nframes``, ``has_no_densepose``,
    ``width``, ``mask_file``...; 2017: ``imgnum`` and any other key, with other keys of ``image[0]`` under
    ``"image_extra"``). A person's ``extra`` likewise keeps ``id``, ``category_id``, ``iscrowd``, an empty
    ``scores`` list of ground truth, and so on.
    """

    file_name: str
    image_id: int
    is_labeled: bool
    people: list[PersonAnnotation] = field(default_factory=list)
    ignore_regions: list[np.ndarray] = field(default_factory=list)
    extra: dict = field(default_factory=dict)


@dataclass
class PoseTrackSequence:
    """One video sequence (one file). name: the file stem, e.g. ``000342_mpii_test``."""

    name: str
    frames: list[FrameAnnotation]
    source_format: str = "2018"  # "2017" | "2018": the format ``extra`` fields belong to
    extra: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------------------
# File names and image ids (poseval's posetrack18_fname2id)
# ----------------------------------------------------------------------------------------------------------

def parse_file_name(file_name: str) -> tuple[str, int, str, int]:
    """``.../000342_mpii_test/000002.jpg`` -> ``("000342_mpii_test", 342, "mpii", 2)``.

    Raises ValueError (a plain sentence, without the file context) when poseval could not parse it.
    """
    folder = os.path.basename(os.path.dirname(file_name))
    match = _SEQ_DIR_RE.match(folder)
    if match is None:
        raise ValueError(
            f"its folder {folder!r} is not '<digits>_<mpii|bonn|mpiinew>[_...]' as poseval requires")
    frame = _FRAME_RE.match(os.path.basename(file_name))
    if frame is None or int(frame.group(1)) >= 10000:
        raise ValueError(f"its base name {os.path.basename(file_name)!r} is not '<frame number below 10000>.jpg' "
                         "as poseval requires")
    return folder, int(match.group(1)), match.group(2), int(frame.group(1))


def posetrack_image_id(file_name: str) -> int:
    """The image id poseval derives from a file name: type * 1e10 + video number * 1e4 + frame number."""
    _, video, kind, frame = parse_file_name(file_name)
    return SEQUENCE_TYPES[kind] * 10_000_000_000 + video * 10_000 + frame


# ----------------------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------------------

class _Context:
    """Builds the one-sentence error messages of one file."""

    def __init__(self, path: Path, lenient: bool = False):
        self.path = path
        self.lenient = lenient

    def is_number(self, value: Any) -> bool:
        """A JSON number; NaN and infinities (which Python's json reads) only when ``lenient``."""
        return _is_number(value) or (self.lenient and _is_real(value))

    def numbers(self, values: Any, count: int | None) -> np.ndarray | None:
        """values as a float64 array of ``count`` numbers (finite unless lenient), or None when they are not."""
        if not isinstance(values, list) or (count is not None and len(values) != count):
            return None
        if not all(self.is_number(v) for v in values):
            return None
        return np.asarray(values, dtype=np.float64)

    def error(self, what: str, fix: str = "", frame: int | None = None, file_name: str | None = None,
              field_name: str | None = None, where: str = "") -> PoseTrackFormatError:
        parts = [str(self.path)]
        if frame is not None:
            parts.append(f"frame {frame} ({file_name})")
        if where:
            parts.append(where)
        message = ", ".join(parts) + ": " + what
        if fix:
            message += "; " + fix
        return PoseTrackFormatError(message + ".", self.path, frame, file_name, field_name)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_real(value) and math.isfinite(value)


def _load_json(path: Path) -> Any:
    ctx = _Context(path)
    if not path.exists():
        raise ctx.error("the file does not exist", "check the path")
    if path.is_dir():
        raise ctx.error("is a folder, not a PoseTrack JSON file", "pass one .json file per sequence")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ctx.error(f"cannot be read as UTF-8 text ({exc.__class__.__name__})", "check the file") from None
    if not text.strip():
        raise ctx.error("the file is empty", "write a PoseTrack 2017 or 2018 JSON object")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ctx.error(f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
                        "fix or regenerate the file") from None


def read_sequence(path: str | os.PathLike, role: str = "gt", check_file_names: bool = True,
                  lenient: bool = False) -> PoseTrackSequence:
    """Read and validate one PoseTrack 2017 or 2018 file (detected by the ``annolist`` key).

    role: ``"gt"``, ``"pred"`` or ``"any"`` (see the module docstring for what each requires).
    check_file_names: require poseval-parsable image file names (turn off only for files that are never
    evaluated, e.g. the tracker's output on an arbitrary video; image ids are then taken as they are).
    lenient: accept what poseval reads without complaint, so that the evaluator scores such files as poseval
    does: NaN and infinities (``NaN``, ``Infinity`` in the JSON text, which Python's json module reads) in
    keypoints, scores, boxes and ignore regions; a 2018 ``scores`` list longer than the keypoint list (its
    first entries are used); 2018 annotations whose ``image_id`` names no image (skipped, as poseval never
    attaches them). A sequence with NaN cannot be written back (JSON has no NaN).
    Raises PoseTrackFormatError with one sentence naming the file, frame and field.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    path = Path(path)
    data = _load_json(path)
    ctx = _Context(path)
    if not isinstance(data, dict):
        raise ctx.error(f"the top level is a JSON {type(data).__name__}, not an object",
                        "a PoseTrack file is an object with 'images', 'annotations' and 'categories' (2018) "
                        "or 'annolist' (2017)", field_name="<top level>")
    if "annolist" in data:
        return _read_2017(data, path, role, check_file_names, lenient)
    from pose.data import posetrack21  # PoseTrack21 builds on this module's types
    if posetrack21.is_posetrack21(data):
        return posetrack21.posetrack21_from_data(data, path, role)
    if "images" not in data:
        keys = ", ".join(sorted(data)) or "none"
        raise ctx.error(f"has neither 'images' (PoseTrack 2018) nor 'annolist' (PoseTrack 2017); its keys are {keys}",
                        "write one of the two formats", field_name="images")
    return _read_2018(data, path, role, check_file_names, lenient)


def read_sequence_dir(directory: str | os.PathLike, role: str = "gt",
                      check_file_names: bool = True) -> list[PoseTrackSequence]:
    """Every ``*.json`` of a folder, read with :func:`read_sequence`, sorted by file name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise PoseTrackFormatError(f"{directory}: is not a folder; pass the folder holding one .json per sequence.",
                                   directory)
    files = sorted(directory.glob("*.json"))
    if not files:
        raise PoseTrackFormatError(f"{directory}: holds no .json files; pass the folder of PoseTrack sequence files.",
                                   directory)
    return [read_sequence(f, role, check_file_names) for f in files]


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
        if not isinstance(img, dict):
            raise ctx.error(f"'images[{i}]' is not an object", frame=i, file_name="?", field_name="images")
        fname = img.get("file_name")
        if not isinstance(fname, str) or not fname:
            raise ctx.error("'file_name' is missing or not a string", "give every image its file name", frame=i,
                            file_name="?", field_name="file_name")
        image_id = img.get("id")
        if not _is_int(image_id):
            raise ctx.error(f"'id' is {image_id!r}, not an integer", "give every image an integer id", frame=i,
                            file_name=fname, field_name="id")
        if image_id in frame_of_id:
            raise ctx.error(f"'id' {image_id} is also the id of frame {frame_of_id[image_id]}",
                            "image ids must be unique", frame=i, file_name=fname, field_name="id")
        frame_of_id[image_id] = i
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


def _check_file_name(fname: str, folder0: str | None, ctx: _Context, i: int, field_name: str) -> str:
    try:
        folder = parse_file_name(fname)[0]
    except ValueError as exc:
        raise ctx.error(f"'{field_name}' cannot be parsed: {exc}",
                        "keep the PoseTrack image paths of the ground truth", frame=i, file_name=fname,
                        field_name=field_name) from None
    if folder0 is not None and folder != folder0:
        raise ctx.error(f"'{field_name}' is in folder {folder!r} but frame 0 is in {folder0!r}",
                        "write one file per sequence (poseval evaluates only the first)", frame=i,
                        file_name=fname, field_name=field_name)
    return folder


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
    """Validates every annotation, then fills all keypoints with one vectorised reorder."""
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


def _check_track_id(track_id: Any, ctx: _Context, field_name: str, err: dict) -> None:
    if not _is_int(track_id):
        raise ctx.error(f"'{field_name}' is {track_id!r}, not an integer", "write integer track ids",
                        field_name="track_id", **err)
    if track_id >= MAX_TRACK_ID:  # poseval asserts only this; negative ids are fine there
        raise ctx.error(f"'{field_name}' is {track_id}, not below {MAX_TRACK_ID}",
                        f"poseval asserts track ids below {MAX_TRACK_ID}; renumber the tracks",
                        field_name="track_id", **err)


def _check_unique_track_ids(frame: FrameAnnotation, ctx: _Context, i: int) -> None:
    seen: set[int] = set()
    for person in frame.people:
        if person.track_id in seen:
            raise ctx.error(f"'track_id' {person.track_id} appears twice in this frame",
                            "give every person of a frame its own track id", frame=i,
                            file_name=frame.file_name, field_name="track_id")
        seen.add(person.track_id)


def _one(value: Any) -> Any:
    """The element of a 2017-style one-element list, or None."""
    return value[0] if type(value) is list and len(value) == 1 else None


def _single(value: Any, check) -> Any:
    """The one element of a 2017-style one-element list, or None when it is not that."""
    if isinstance(value, list) and len(value) == 1 and check(value[0]):
        return value[0]
    return None


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


# ----------------------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------------------

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
    out = {k: v for k, v in seq.extra.items()} if own else {}
    cats = out.get("categories")
    if not (isinstance(cats, list) and len(cats) == 1 and isinstance(cats[0], dict)
            and cats[0].get("keypoints") == list(POSETRACK18_JOINTS)):
        out["categories"] = [_default_category()]
    out["images"] = images
    out["annotations"] = annotations
    return out


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


def _write_json_atomic(obj: dict, path: Path) -> None:
    write_json_atomic(path, obj, allow_nan=False)


def write_sequence(seq: PoseTrackSequence, path: str | os.PathLike, fmt: str = "2018") -> None:
    """Write a sequence as a 2018, 2017 or PoseTrack21 ("21") file, atomically (temp file + os.replace)."""
    if fmt not in ("2017", "2018", "21"):
        raise ValueError(f"fmt must be '2017', '2018' or '21', got {fmt!r}")
    if fmt == "21":
        from pose.data.posetrack21 import write_posetrack21
        return write_posetrack21(seq, path)
    obj = to_posetrack18_dict(seq) if fmt == "2018" else to_posetrack17_dict(seq)
    try:
        _write_json_atomic(obj, Path(path))
    except ValueError as exc:  # NaN or infinity in an array
        raise PoseTrackFormatError(f"{path}: cannot be written because a value is not finite ({exc}); "
                                   "write absent joints as 0, 0, 0.", path) from None


def convert_file(src: str | os.PathLike, dst: str | os.PathLike, fmt: str, role: str = "any") -> PoseTrackSequence:
    """Read ``src`` (either format, validated for ``role``) and write it to ``dst`` in ``fmt``."""
    seq = read_sequence(src, role)
    write_sequence(seq, dst, fmt)
    return seq


# ----------------------------------------------------------------------------------------------------------
# Predictions against ground truth, and building predictions from arrays
# ----------------------------------------------------------------------------------------------------------

def _image_key(file_name: str) -> str:
    """Sequence folder + frame file: the part of a path that names the image whatever the prefix."""
    return "/".join(file_name.replace("\\", "/").split("/")[-2:])


def check_prediction_matches_gt(pred: PoseTrackSequence, gt: PoseTrackSequence) -> None:
    """Raise PoseTrackFormatError unless ``pred`` lists the ground truth's images in the same order.

    poseval aligns frames by position only, so a different number or order of images silently scores the
    wrong frames. Names are compared on their last two path components (folder/frame).
    """
    for i, (p, g) in enumerate(zip(pred.frames, gt.frames)):
        if _image_key(p.file_name) != _image_key(g.file_name):
            raise PoseTrackFormatError(
                f"prediction {pred.name}, frame {i} ({p.file_name}): 'file_name' differs from the ground truth's "
                f"frame {i} ({g.file_name}); write the images in the ground truth's order.",
                pred.name, i, p.file_name, "file_name")
    if len(pred.frames) != len(gt.frames):
        i = min(len(pred.frames), len(gt.frames))
        longer = pred if len(pred.frames) > len(gt.frames) else gt
        raise PoseTrackFormatError(
            f"prediction {pred.name}, frame {i} ({longer.frames[i].file_name}): the prediction has "
            f"{len(pred.frames)} images and the ground truth {len(gt.frames)} ('images' count differs); "
            "write one image entry per ground-truth frame, empty frames included.",
            pred.name, i, longer.frames[i].file_name, "images")


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


# ----------------------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------------------

def _summary(seq: PoseTrackSequence) -> str:
    people = sum(len(f.people) for f in seq.frames)
    tracks = len({p.track_id for f in seq.frames for p in f.people})
    return f"{seq.source_format} format, {len(seq.frames)} frames, {people} people, {tracks} tracks"


def _convert_cli(src: Path, dst_text: str, fmt: str, role: str) -> list[tuple[Path, Path]]:
    """dst_text: a file, or a folder (existing, ending in "/", or without a .json suffix)."""
    dst = Path(dst_text)
    if src.is_dir():
        files = sorted(src.glob("*.json"))
        if not files:
            raise PoseTrackFormatError(f"{src}: holds no .json files; pass a PoseTrack file or a folder of them.", src)
        pairs = [(f, dst / f.name) for f in files]
    else:
        into_folder = dst.is_dir() or dst_text.endswith(("/", os.sep)) or dst.suffix.lower() != ".json"
        pairs = [(src, dst / src.name if into_folder else dst)]
    sequences = [read_sequence(s, role) for s, _ in pairs]  # validate everything before writing anything
    for seq, (_, d) in zip(sequences, pairs):
        write_sequence(seq, d, fmt)
    return pairs


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pose.data.posetrack",
                                     description="Validate and convert PoseTrack 2017/2018/21 annotation files.")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="validate files; prints one line per file")
    check.add_argument("files", nargs="+", type=Path)
    check.add_argument("--role", choices=ROLES, default="any",
                       help="gt: require head boxes; pred: require per-joint scores; any: structure only")
    check.add_argument("--gt", type=Path, default=None,
                       help="ground-truth folder: also check that each file lists the same images in the same order")
    conv = sub.add_parser("convert", help="convert a file (or every .json of a folder) to the other format")
    conv.add_argument("src", type=Path)
    conv.add_argument("dst", help="output file, or folder (created) for a folder or a path ending in /")
    conv.add_argument("--format", choices=("2017", "2018", "21"), required=True, dest="fmt",
                      help="2017 (annolist), 2018 (COCO-like) or 21 (PoseTrack21)")
    conv.add_argument("--role", choices=ROLES, default="any")
    args = parser.parse_args(None if argv is None else list(argv))
    try:
        if args.command == "check":
            failed = 0
            for path in args.files:  # every file is checked; one error line per bad file
                try:
                    seq = read_sequence(path, args.role)
                    if args.gt is not None:
                        gt_file = args.gt / path.name
                        if not gt_file.exists():
                            raise PoseTrackFormatError(f"{path}: has no ground-truth file {gt_file}; poseval needs "
                                                       "a prediction file named like every ground-truth file.", path)
                        check_prediction_matches_gt(seq, read_sequence(gt_file, "gt"))
                except PoseTrackFormatError as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    failed += 1
                    continue
                print(f"ok: {path}: {_summary(seq)}")
            return 2 if failed else 0
        else:
            for s, d in _convert_cli(args.src, args.dst, args.fmt, args.role):
                print(f"wrote {d} (PoseTrack {args.fmt}) from {s}")
    except PoseTrackFormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc}; check the path and permissions.", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
