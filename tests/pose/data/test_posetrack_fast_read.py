"""The fast paths of the PoseTrack reader (pose/data/posetrack/format2018.py, checks.py) read exactly what the
value-by-value reader and the standard library's json read: whole-array checks of 2018 annotations, orjson."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.conftest import SHARED
from pose.data.posetrack import PoseTrackFormatError, read_sequence
from pose.data.posetrack import checks, format2018
from pose.keypoints import POSETRACK18_JOINTS


def _keypoints(rng, present: float) -> list:
    kp = np.zeros((17, 3))
    on = rng.random(17) < present
    kp[on, :2] = rng.uniform(10, 600, (on.sum(), 2)).round(3)
    kp[on, 2] = rng.integers(0, 2, on.sum())
    return [float(v) if i % 3 < 2 else int(v) for i, v in enumerate(kp.ravel())]


def edge_case_file(role: str) -> dict:
    """A 2018 file with what the whole-array path must carry over: empty and absent score lists, optional boxes
    and person scores, integer coordinates, extra keys in any order, ignore regions, an unlabeled frame."""
    rng = np.random.default_rng(7)
    images, annotations = [], []
    for t in range(6):
        name = f"images/val/000342_mpii_test/{t:06d}.jpg"
        image = {"file_name": name, "id": 10003420000 + t, "frame_id": 10003420000 + t, "vid_id": "000342",
                 "is_labeled": t != 4}
        if t == 2:
            image["ignore_regions_x"] = [[0, 50, 50, 0]]
            image["ignore_regions_y"] = [[0, 0, 40, 40]]
        images.append(image)
        for p in range(3 if t != 4 else 0):
            ann = {"id": t * 100 + p, "image_id": 10003420000 + t, "track_id": p, "category_id": 1,
                   "keypoints": _keypoints(rng, 0.8 if p != 2 or role == "pred" else 0.0)}
            if role == "pred":
                ann["scores"] = rng.random(17).round(4).tolist()
                if p == 1:
                    ann["score"] = 0.5 if t % 2 else 1
            else:
                ann["scores"] = [] if p == 0 else None
                if p != 2:
                    x, y = rng.uniform(50, 400, 2).round(2)
                    ann["bbox_head"] = [x, y, 30, 38.5]
            if p == 1:
                ann["bbox"] = [1, 2.5, 100, 200]
                ann = {"iscrowd": 0, **ann}  # keys in another order
            annotations.append(ann)
    category = {"supercategory": "person", "id": 1, "name": "person", "keypoints": list(POSETRACK18_JOINTS)}
    return {"images": images, "annotations": annotations, "categories": [category]}


def person_fields(seq) -> list:
    """Every field the reader fills, frame by frame, as plain values (arrays as lists, NaN as a string)."""
    def plain(v):
        if v is None:
            return None
        return json.dumps(np.asarray(v, dtype=np.float64).tolist(), allow_nan=True)

    out = []
    for f in seq.frames:
        out.append((f.file_name, f.image_id, f.is_labeled, [plain(r) for r in f.ignore_regions], f.extra))
        for p in f.people:
            out.append((p.track_id, plain(p.keypoints), plain(p.scores), plain(p.head_box), plain(p.bbox),
                        p.score, type(p.score).__name__, p.extra, list(p.extra), p.listed, p.scored))
    return out


def files_2018(tmp_path) -> list:
    """(path, role, lenient): the edge-case files, one with NaN and Infinity, and the 2018 poseval reference files
    (../shared/reference/poseval, where it is)."""
    files = []
    for role in ("gt", "pred"):
        path = tmp_path / f"edge_{role}.json"
        path.write_text(json.dumps(edge_case_file(role)))
        files.append((path, role, False))
    nan_file = edge_case_file("pred")
    nan_file["annotations"][0]["keypoints"][0] = math.nan
    nan_file["annotations"][1]["scores"][3] = math.inf
    (tmp_path / "nan.json").write_text(json.dumps(nan_file, allow_nan=True))
    files.append((tmp_path / "nan.json", "any", True))
    root = SHARED / "reference" / "poseval"  # when present: every 2018 file of the poseval parity cases too
    for path in sorted(root.glob("*/*/*.json")):
        if path.parent.name in ("gt", "pred") and "annolist" not in json.loads(path.read_text()):
            files.append((path, path.parent.name, False))
    return files


def test_whole_array_checks_read_what_the_value_by_value_checks_read(tmp_path, monkeypatch):
    taken = []
    attach = format2018._attach_columns
    monkeypatch.setattr(format2018, "_attach_columns", lambda *a: taken.append(attach(*a)) or taken[-1])
    files = files_2018(tmp_path)
    fast = [person_fields(read_sequence(p, role, lenient=lenient)) for p, role, lenient in files]
    assert len(taken) == len(files) and all(taken), "every file must go through the whole-array path"
    monkeypatch.setattr(format2018, "_annotation_columns", lambda *a: None)  # the value-by-value reader only
    checked = [person_fields(read_sequence(p, role, lenient=lenient)) for p, role, lenient in files]
    assert fast == checked


@pytest.mark.skipif(checks.orjson is None, reason="orjson is not installed")
def test_orjson_reads_what_json_reads(tmp_path, monkeypatch):
    files = files_2018(tmp_path)
    with_orjson = [person_fields(read_sequence(p, role, lenient=lenient)) for p, role, lenient in files]
    monkeypatch.setattr(checks, "orjson", None)
    with_json = [person_fields(read_sequence(p, role, lenient=lenient)) for p, role, lenient in files]
    assert with_orjson == with_json


@pytest.mark.parametrize("field, value, message", [
    ("track_id", 10 ** 23, "'track_id' is 100000000000000000000000, not below 10000"),
    ("track_id", 2.0, "'track_id' is 2.0, not an integer"),
    ("scores", [0.5] * 16 + [True], "'scores' has 17 entries or non-numbers, expected 17 numbers"),
    ("bbox_head", [1, 2, 3], "'bbox_head' is [1, 2, 3], not 4 numbers [x, y, w, h]"),
    ("score", math.inf, "'score' is inf, not a finite number"),
])
def test_bad_values_are_named_as_before(tmp_path, field, value, message):
    """A file failing the whole-array checks is read value by value, which names the first bad value (here in the
    second annotation, so the first one passes); integers beyond 64 bits are worded as json reads them."""
    data = edge_case_file("pred")
    data["annotations"][1][field] = value
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data, allow_nan=True).replace("Infinity", "1e999"))
    with pytest.raises(PoseTrackFormatError) as err:
        read_sequence(path, role="pred")
    assert message in str(err.value) and "annotation 1" in str(err.value)
