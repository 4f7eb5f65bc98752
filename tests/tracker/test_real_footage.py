"""The tracker on real footage with real models (YOLOX-nano + MoveNet Thunder through ONNX Runtime + DIS). Skipped
with the reason when ../shared is absent."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tracker.run import main


@pytest.fixture
def models(shared):
    return (shared("data", "models", "movenet_thunder.onnx"), shared("data", "models", "yolox_nano.onnx"),
            shared("data", "videos", "vtest.avi"))


def run_vtest(models, out: Path, *extra: str) -> int:
    movenet, yolox, video = models
    return main(["--video", str(video), "--max-frames", "4", "--detector", f"onnx:{yolox}", "--out", str(out),
                 "--pose-weights", str(movenet), "--no-progress", "--quiet", *extra])


def test_tracker_run_on_vtest_with_movenet(models, tmp_path):
    assert run_vtest(models, tmp_path, "--pose-model", "movenet_thunder", "--overlay") == 0
    assert (tmp_path / "vtest_overlay.mp4").stat().st_size > 0
    data = json.loads((tmp_path / "vtest.json").read_text())
    assert len(data["images"]) == 4
    frames = {image["id"]: {} for image in data["images"]}
    for person in data["annotations"]:
        confident = int(np.sum(np.asarray(person["scores"]) > 0))
        frames[person["image_id"]][person["track_id"]] = confident
    # the three walkers of the first frames: posed (at least 8 of 17 joints confident), the same ids in all 4 frames
    walkers = [{track for track, joints in people.items() if joints >= 8} for people in frames.values()]
    assert all(len(w) >= 3 for w in walkers), walkers
    assert len(set.intersection(*walkers)) >= 3


def test_onnx_pose_model_errors(models, tmp_path, capsys):
    assert run_vtest(models, tmp_path / "a") == 2            # MoveNet with the default (HRNet) pose config
    err = capsys.readouterr().err
    assert "takes input of shape 1x256x256x3 but its pose config says Bx3x256x192" in err and "--pose-model" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert main(["--video", str(models[2]), "--max-frames", "2", "--detector", f"onnx:{models[1]}",
                 "--pose-model", "movenet_thunder", "--pose-weights",
                 str(tmp_path / "none.onnx"), "--out", str(tmp_path / "b"), "--no-progress"]) == 2
    assert "none.onnx does not exist" in capsys.readouterr().err
    assert not list((tmp_path / "a").glob("*.json")) and not list((tmp_path / "b").glob("*.json"))


def test_refound_track_definition():
    """Hand-made ids: track 1 ends at frame 1, id 3 starts at frame 3 on its box (re-found); id 4 starts far away."""
    from benchmarks.real_footage import track_stats

    box = np.array([[10.0, 10.0, 50.0, 90.0]])
    moved = box + [2.0, 0.0, 2.0, 0.0]                      # IoU 0.9 with box
    far = np.array([[200.0, 10.0, 240.0, 90.0]])
    ids = [np.array([1, 2]), np.array([1, 2]), np.array([2]), np.array([2, 3]), np.array([2, 3, 4])]
    boxes = [np.concatenate([box, far]), np.concatenate([box, far]), far, np.concatenate([far, moved]),
             np.concatenate([far, moved, box + 100])]
    stats = track_stats(ids, boxes, gap=10, iou=0.5)
    assert (stats.ids, stats.refound, stats.single_frame) == (4, 1, 1)
    assert stats.mean_length == pytest.approx((2 + 5 + 2 + 1) / 4)
    assert track_stats(ids, boxes, gap=1, iou=0.5).refound == 0    # ended 2 frames before: beyond a gap of 1
