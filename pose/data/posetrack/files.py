"""Reading (either format, told apart by the ``annolist`` key), writing and converting PoseTrack files."""
from __future__ import annotations

import os
from pathlib import Path

from pose.data.posetrack.checks import _Context, _load_json, not_finite_error, orjson
from pose.data.posetrack.format2017 import _read_2017, to_posetrack17_dict
from pose.data.posetrack.format21 import is_posetrack21, posetrack21_from_data, to_posetrack21_dict
from pose.data.posetrack.format2018 import _read_2018, to_posetrack18_dict
from pose.data.posetrack.types import PoseTrackFormatError, PoseTrackSequence, ROLES
from pose.fileio import write_json_atomic


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
    try:
        return _read_data(_load_json(path), path, role, check_file_names, lenient)
    except PoseTrackFormatError:  # worded on the standard library's reading of the file (see _load_json)
        if orjson is None:
            raise
        return _read_data(_load_json(path, fast=False), path, role, check_file_names, lenient)


def _read_data(data, path: Path, role: str, check_file_names: bool, lenient: bool) -> PoseTrackSequence:
    ctx = _Context(path)
    if not isinstance(data, dict):
        raise ctx.error(f"the top level is a JSON {type(data).__name__}, not an object",
                        "a PoseTrack file is an object with 'images', 'annotations' and 'categories' (2018) "
                        "or 'annolist' (2017)", field_name="<top level>")
    if "annolist" in data:
        return _read_2017(data, path, role, check_file_names, lenient)
    if is_posetrack21(data):
        return posetrack21_from_data(data, path, role)
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


def write_sequence(seq: PoseTrackSequence, path: str | os.PathLike, fmt: str = "2018") -> None:
    """Write a sequence as a 2018, 2017 or PoseTrack21 ("21") file, atomically (temp file + os.replace)."""
    if fmt not in ("2017", "2018", "21"):
        raise ValueError(f"fmt must be '2017', '2018' or '21', got {fmt!r}")
    to_dict = {"2018": to_posetrack18_dict, "2017": to_posetrack17_dict, "21": to_posetrack21_dict}[fmt]
    try:
        write_json_atomic(Path(path), to_dict(seq), allow_nan=False)
    except ValueError as exc:  # NaN or infinity in an array
        raise not_finite_error(path, exc) from None


def convert_file(src: str | os.PathLike, dst: str | os.PathLike, fmt: str, role: str = "any") -> PoseTrackSequence:
    """Read ``src`` (either format, validated for ``role``) and write it to ``dst`` in ``fmt``."""
    seq = read_sequence(src, role)
    write_sequence(seq, dst, fmt)
    return seq
