"""What both readers check and how they say it: one-sentence errors naming file, frame and field; JSON loading;
file names and track ids; a prediction listing the ground truth's images."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

try:  # parses PoseTrack files about twice as fast as the standard library; optional
    import orjson
except ImportError:  # pragma: no cover - orjson is a declared dependency
    orjson = None

from pose.data.posetrack.types import (
    FrameAnnotation,
    MAX_TRACK_ID,
    PoseTrackFormatError,
    PoseTrackSequence,
    parse_file_name,
)


_REAL_TYPES = frozenset((int, float))  # the types json gives a number (a bool is of type bool)


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
        if not _REAL_TYPES.issuperset(map(type, values)):  # one pass in C: no bool, string, list or null
            return None
        try:
            array = np.asarray(values, dtype=np.float64)
        except OverflowError:  # an integer beyond the float range
            return None
        if not self.lenient and not np.isfinite(array).all():
            return None
        return array

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


def _load_json(path: Path, fast: bool = True) -> Any:
    """The parsed JSON of a file, or PoseTrackFormatError naming what is wrong with it.

    fast: parse with orjson when it is installed (about twice as fast on these number-heavy files), falling back
    to the standard library for what orjson refuses (NaN / Infinity, which Python's json and so poseval read; bad
    UTF-8; bad JSON, whose error the standard library words). orjson differs in one more way: an integer beyond
    64 bits becomes a float. Readers retry a file with ``fast=False`` when it fails their checks
    (``files.read_sequence``), so error messages are the standard library's.
    """
    ctx = _Context(path)
    if not path.exists():
        raise ctx.error("the file does not exist", "check the path")
    if path.is_dir():
        raise ctx.error("is a folder, not a PoseTrack JSON file", "pass one .json file per sequence")
    if fast and orjson is not None:
        try:
            return orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            pass  # the standard path below decides and words the error
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


def not_finite_error(path, error: ValueError) -> PoseTrackFormatError:
    """The writers' one sentence for a NaN or an infinity that JSON cannot hold (``allow_nan=False``)."""
    return PoseTrackFormatError(f"{path}: cannot be written because a value is not finite ({error}); "
                                "write absent joints as 0, 0, 0.", path)


def _check_image(img: Any, image_id: Any, frame_of_id: dict[int, int], ctx: _Context, i: int) -> str:
    """Image ``i`` of a 2018 / PoseTrack21 ``images`` list: an object with a file name and an integer id not used
    before (recorded in ``frame_of_id``). Returns its file name."""
    if not isinstance(img, dict):
        raise ctx.error(f"'images[{i}]' is not an object", frame=i, file_name="?", field_name="images")
    fname = img.get("file_name")
    if not isinstance(fname, str) or not fname:
        raise ctx.error("'file_name' is missing or not a string", "give every image its file name", frame=i,
                        file_name="?", field_name="file_name")
    if not _is_int(image_id):
        raise ctx.error(f"'id' is {image_id!r}, not an integer", "give every image an integer id", frame=i,
                        file_name=fname, field_name="id")
    if image_id in frame_of_id:
        raise ctx.error(f"'id' {image_id} is also the id of frame {frame_of_id[image_id]}",
                        "image ids must be unique", frame=i, file_name=fname, field_name="id")
    frame_of_id[image_id] = i
    return fname


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
