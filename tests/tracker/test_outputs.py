"""CSV and per-track JSON outputs (tracker.outputs): streaming sinks, column values, a real clip read back with pandas."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pose.keypoints import POSETRACK18
from tests.conftest import shared_path
from tracker.outputs import CSV_COLUMNS, CsvSink, Item, PerTrackSink, pose_sources
from tracker.run import main
from tracker.types import Boxes, Poses, TrackedFrame

K = POSETRACK18.num_joints


def _frame(index: int, ids, detected: bool = True, raw=None) -> TrackedFrame:
    n = len(ids)
    kp = np.array([[[10.0 * index + i, 5.0 * j] for j in range(K)] for i in range(n)]).reshape(n, K, 2)
    scores = np.full((n, K), 0.9, np.float32)
    scores[:, 0] = 0.1                                             # the nose below the output threshold
    boxes = np.array([[i * 50, 0, i * 50 + 40, 90] for i in range(n)], np.float32).reshape(-1, 4)
    poses = Poses(kp, scores, boxes, np.full(n, 0.8))
    det = Boxes.detected(boxes[:1], np.full(min(n, 1), 0.8)) if detected else Boxes.empty()
    prop = Boxes(boxes[1:], np.full(n - 1, 0.7) if n > 1 else [], np.ones(max(n - 1, 0))) if detected \
        else Boxes.empty()
    sources = np.concatenate([det.source, prop.source]) if detected else None   # the first box detected
    return TrackedFrame(index, poses, np.asarray(ids), detected_boxes=det, propagated_boxes=prop,
                        time_s=index / 10.0, raw_keypoints=raw, box_sources=sources)


def test_sources_from_boxes():
    assert pose_sources(_frame(0, [4, 7])) == ["detected", "propagated"]
    assert pose_sources(_frame(0, [4], detected=False)) == ["given"]


def test_csv_rows_and_values(tmp_path):
    sink = CsvSink(tmp_path / "clip.csv", joint_threshold=0.4)
    sink.start(Item("clip"))
    assert not (tmp_path / "clip.csv").exists()                   # rows go to a hidden file until finish
    for t, ids in enumerate([[4, 7], [], [7]]):
        sink.add(_frame(t, ids))
    assert sink.finish() == tmp_path / "clip.csv"
    table = pd.read_csv(tmp_path / "clip.csv")
    assert tuple(table.columns) == CSV_COLUMNS
    assert len(table) == 3 * K                                     # (2 + 0 + 1) people x 17 joints
    row = table[(table.frame == 2) & (table.track_id == 7) & (table.joint == "left_shoulder")].iloc[0]
    assert (row.x, row.y, row.score, row.source, row.time_s) == (20.0, 25.0, 0.9, "detected", 0.2)
    noses = table[table.joint == "nose"]
    assert noses.x.isna().all() and (noses.score == 0.1).all()     # below the threshold: no position
    assert set(table[table.frame == 0].source) == {"detected", "propagated"}


def test_per_track_files_and_abort(tmp_path):
    sink = PerTrackSink(tmp_path / "people", joint_threshold=0.4)
    sink.start(Item("clip"))
    raw = np.zeros((1, K, 2), np.float32)
    for t, ids in enumerate([[4, 7], [7], [4]]):
        sink.add(_frame(t, ids, raw=None if len(ids) > 1 else raw[:len(ids)]))
    folder = sink.finish()
    assert sorted(p.name for p in folder.iterdir()) == ["track_4.json", "track_7.json"]
    four = json.loads((folder / "track_4.json").read_text())
    assert (four["video"], four["track_id"], four["joints"]) == ("clip", 4, list(POSETRACK18.joints))
    assert [f["frame"] for f in four["frames"]] == [0, 2]
    assert four["frames"][1]["keypoints"][5] == [20.0, 25.0, 0.9] and four["frames"][1]["keypoints"][0][:2] == \
        [None, None]
    assert "raw_keypoints" not in four["frames"][0] and four["frames"][1]["raw_keypoints"][5] == [0.0, 0.0, 0.9]
    assert not list((tmp_path / "people").glob(".*"))             # no hidden parts left
    again = PerTrackSink(tmp_path / "people2")
    again.start(Item("clip"))
    again.add(_frame(0, [1]))
    again.abort()
    assert list((tmp_path / "people2").iterdir()) == []


def test_real_clip_csv_and_per_track_read_back_with_pandas(tmp_path):
    video = shared_path("data", "videos", "vtest.avi")             # 10 frames per second
    model = shared_path("data", "models", "yolox_nano.onnx")
    out = tmp_path / "out"
    code = main(["--video", str(video), "--out", str(out), "--max-frames", "6", "--detector", f"onnx:{model}",
                 "--pose-weights", "hrnet_synthetic", "--csv", str(out / "vtest.csv"), "--per-track",
                 str(out / "people"), "--no-progress", "--quiet"])
    assert code == 0
    table = pd.read_csv(out / "vtest.csv")
    prediction = json.loads((out / "vtest.json").read_text())
    people = prediction["annotations"]
    assert len(people) >= 6 and len(table) == len(people) * K     # every person of every frame, 17 rows each
    np.testing.assert_allclose(sorted(set(table.time_s)), np.arange(6) / 10.0)
    frame_of = {image["id"]: i for i, image in enumerate(prediction["images"])}
    for person in people:                                          # the CSV holds the JSON's joints
        rows = table[(table.frame == frame_of[person["image_id"]]) & (table.track_id == person["track_id"])]
        kp = np.array(person["keypoints"], float).reshape(K, 3)
        present = kp[:, 2] > 0
        np.testing.assert_allclose(rows.x.to_numpy()[present], kp[present, 0], atol=0.011)
        assert rows.x.isna().to_numpy()[~present].all()
    assert set(table.source) <= {"detected", "propagated"}
    tracks = sorted((out / "people" / "vtest").glob("track_*.json"))
    assert len(tracks) == table.track_id.nunique()
    for path in tracks:
        data = json.loads(path.read_text())
        frames = pd.DataFrame(data["frames"])
        assert list(frames.frame) == sorted(table[table.track_id == data["track_id"]].frame.unique())
        assert "raw_keypoints" in frames                           # --video smooths by default: raw kept too


def test_csv_refused_in_submission_mode(tmp_path, capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["--images", str(tmp_path), "--gt-dir", str(tmp_path), "--out", str(tmp_path / "o"), "--csv",
              str(tmp_path / "a.csv")])
    assert excinfo.value.code == 2
    assert "--csv" in capsys.readouterr().err.splitlines()[-1]       # the error line, not the usage text
