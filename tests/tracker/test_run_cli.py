"""``python -m tracker.run``: a real video end to end, submission mode, tracking-only mode, and bad input."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import pose
from pose.data.posetrack import check_prediction_matches_gt, read_sequence
from tests.conftest import REPO_ROOT, shared_path
from tests.tracker.conftest import TINY
from tests.tracker.tracking_scenes import Scene
from tracker.run import main



def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tracker.run", *args], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=300)


def test_video_to_posetrack_json(tmp_path, tiny_weights):
    video = shared_path("data", "videos", "vtest.avi")
    model = shared_path("data", "models", "yolox_nano.onnx")
    out = tmp_path / "out"
    result = _cli("--video", str(video), "--out", str(out), "--max-frames", "5", "--detector", f"onnx:{model}",
                  "--pose-model", TINY, "--pose-weights", str(tiny_weights), "--no-progress", "--overlay")
    assert result.returncode == 0, result.stderr
    assert f"wrote {out / 'vtest.json'}" in result.stdout
    assert "frames/s" in result.stderr and "pose" in result.stderr          # the timing table
    # a video's frames are named images/vtest/NNNNNN.jpg, not poseval's <digits>_<kind> folders
    seq = read_sequence(out / "vtest.json", role="pred", check_file_names=False)
    assert [f.file_name for f in seq.frames] == [f"images/vtest/{i:06d}.jpg" for i in range(5)]
    assert len(seq.frames[0].people) >= 3                                  # YOLOX finds the walkers
    for frame in seq.frames:
        ids = [p.track_id for p in frame.people]
        assert len(ids) == len(set(ids))
        for person in frame.people:
            assert person.scores.shape == (17,)
            assert (person.keypoints[3:5] == 0).all()                      # ears: PoseTrack placeholders
    data = json.loads((out / "vtest.json").read_text())
    assert len(data["images"]) == 5 and data["categories"][0]["keypoints"][1:3] == ["head_bottom", "head_top"]
    capture = cv2.VideoCapture(str(out / "vtest_overlay.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    capture.release()


def test_submission_mode_mirrors_the_ground_truth(tmp_path, tiny_weights):
    root = shared_path("data", "posetrack18")
    gt_dir = root / "annotations" / "val"
    detections = root / "annotations" / "test_posetrack18_human_detections.json"
    out = tmp_path / "pred"
    code = main(["--images", str(root), "--gt-dir", str(gt_dir), "--out", str(out), "--detector",
                 f"file:{detections}", "--pose-model", TINY, "--pose-weights", str(tiny_weights),
                 "--no-progress", "--quiet"])
    assert code == 0
    names = sorted(p.name for p in gt_dir.glob("*.json"))
    assert sorted(p.name for p in out.glob("*.json")) == sorted([*names, "run_summary.json"])
    predictions = [read_sequence(out / name, role="pred") for name in names]  # poseval-parsable names, scores
    for pred, gt in zip(predictions, [read_sequence(gt_dir / name, role="gt") for name in names]):
        check_prediction_matches_gt(pred, gt)
        assert [f.image_id for f in pred.frames] == [f.image_id for f in gt.frames]
        assert len(pred.frames[0].people) >= 1                             # the file's boxes were used


def _write_untracked(path: Path, scene: Scene) -> None:
    images, annotations = [], []
    for t in range(scene.num_frames):
        image_id = 10_000_010_000 + t
        images.append({"id": image_id, "file_name": f"images/val/000001_mpiinew_test/{t:06d}.jpg"})
        kp, sc, _ = scene.poses(t)
        for keypoints, scores in zip(kp, sc):
            flat = np.concatenate([keypoints, (scores > 0)[:, None]], axis=1)
            flat[scores == 0] = 0
            annotations.append({"image_id": image_id, "keypoints": flat.ravel().tolist(), "scores": scores.tolist()})
    path.write_text(json.dumps({"images": images, "annotations": annotations}))


def test_tracking_only_mode(tmp_path):
    # person 0 walks right and is missing in frame 3; person 1 walks left lower down; no track ids in the input
    scene = Scene([[None if t == 3 else (40 + 8 * t, 30), (250 - 8 * t, 120)] for t in range(7)])
    poses_file = tmp_path / "000001_mpiinew_test.json"
    _write_untracked(poses_file, scene)
    out = tmp_path / "out"
    # plain OKS over a two-frame gap (16 px) scores 0.29 with the joints' 15 %-longer boxes as OKS areas
    code = main(["--poses", str(poses_file), "--out", str(out), "--set", "association.similarity=oks",
                 "--set", "association.match_threshold=0.2", "--no-progress", "--quiet"])
    assert code == 0
    seq = read_sequence(out / "000001_mpiinew_test.json", role="pred")
    ids = [[p.track_id for p in f.people] for f in seq.frames]
    assert ids == [[0, 1]] * 3 + [[1]] + [[0, 1]] * 3
    np.testing.assert_allclose(seq.frames[2].people[0].keypoints[:, :2][[0, 5, 16]],
                               scene.poses(2)[0][0][[0, 5, 16]])


def _assert_user_error(code: int, capsys, out: Path, pattern: str) -> None:
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and pattern in lines[0], err
    assert not list(out.glob("*.json")) if out.exists() else True


def test_bad_input_battery(tmp_path, tiny_weights, capsys):
    out = tmp_path / "out"
    base = ["--out", str(out), "--pose-model", TINY, "--pose-weights", str(tiny_weights), "--no-progress",
            "--detector", "file:" + str(tmp_path / "dets.json")]
    (tmp_path / "dets.json").write_text("[]")

    _assert_user_error(main(["--video", str(tmp_path / "missing.mp4"), *base]), capsys, out, "does not exist")

    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all")
    _assert_user_error(main(["--video", str(text), *base]), capsys, out, "is not a video")

    empty = tmp_path / "empty.avi"
    cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48)).release()
    _assert_user_error(main(["--video", str(empty), *base]), capsys, out, "no frames")

    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for _ in range(3):
        writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    unwritable = ["--video", str(clip), "--out", str(blocker / "sub"), *base[2:]]
    _assert_user_error(main(unwritable), capsys, blocker, "cannot write into the output folder")

    wide = tmp_path / "wide.pth"
    wide_config = tmp_path / "wide.yaml"
    wide_config.write_text(Path(TINY).read_text().replace("width: 4", "width: 8"))
    torch.save(pose.build_model(str(wide_config)).state_dict(), wide)
    wrong = ["--video", str(clip), *base[:4], "--pose-weights", str(wide), *base[6:]]
    _assert_user_error(main(wrong), capsys, out, "W8")

    _assert_user_error(main(["--video", str(clip), *base, "--set", "association.memroy=3"]), capsys, out,
                       "unknown config key")
    _assert_user_error(main(["--video", str(clip), *base, "--debug-frames", str(blocker / "frames")]), capsys, out,
                       "debug-frame folder")
    _assert_user_error(main(["--video", str(clip), *base[:-1], "onnx:" + str(tmp_path / "none.onnx")]), capsys,
                       out, "does not exist")
    assert not out.exists() or not any(out.iterdir())


def test_bad_input_from_the_shell_has_no_traceback(tmp_path):
    result = _cli("--video", str(tmp_path / "missing.mp4"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: video file {tmp_path / 'missing.mp4'} does not exist; check the path"
    assert not (tmp_path / "out" / "missing.json").exists()
