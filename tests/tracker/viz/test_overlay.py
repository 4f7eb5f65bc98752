"""Overlay outputs: mp4 decodable with the right frame count and size, contact sheet grid, nothing left on failure."""
import cv2
import numpy as np
import pytest

from tracker.viz.overlay import (OverlayError, OverlayWriter, VideoWriter, contact_sheet, parse_frame_range,
                                 sheet_indices)
from tracker.viz.render import RenderOptions
from tracker.types import Poses, TrackedFrame


def _count_frames(path):
    capture = cv2.VideoCapture(str(path))
    count = 0
    size = None
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        count += 1
        size = frame.shape
    capture.release()
    return count, size


def test_overlay_writer_outputs(tmp_path):
    options = RenderOptions(video_fps=10.0)
    writer = OverlayWriter(options, tmp_path / "clip_overlay.mp4", 10.0, tmp_path / "frames", tmp_path / "sheet.png",
                           sheet_indices(0, 12, 6))
    rng = np.random.default_rng(0)
    for index in range(12):
        image = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
        writer.write(image, TrackedFrame(index, Poses.empty(17), []), run_fps=5.0)
    writer.close()
    assert _count_frames(tmp_path / "clip_overlay.mp4") == (12, (96, 128, 3))
    assert sorted(p.name for p in (tmp_path / "frames").iterdir())[:2] == ["000000.png", "000001.png"]
    sheet = cv2.imread(str(tmp_path / "sheet.png"))
    assert sheet.shape == (2 * 240, 3 * 320, 3)  # 6 frames -> 3 columns x 2 rows of 320x240 tiles
    assert not list(tmp_path.glob(".*"))         # no temporary files left


def test_aborted_video_leaves_nothing(tmp_path):
    writer = VideoWriter(tmp_path / "x.mp4", 10.0)
    writer.write(np.zeros((32, 32, 3), np.uint8))
    writer.abort()
    assert list(tmp_path.iterdir()) == []
    empty = VideoWriter(tmp_path / "y.mp4", 10.0)
    with pytest.raises(OverlayError, match="no frames"):
        empty.close()
    assert list(tmp_path.iterdir()) == []


def test_contact_sheet_places_tiles_in_order():
    tiles = [np.full((30, 40, 3), v, np.uint8) for v in (10, 20, 30, 40, 50)]
    sheet = contact_sheet(tiles, columns=2, tile_width=40)
    assert sheet.shape == (90, 80, 3)
    assert sheet[0, 0, 0] == 10 and sheet[0, 79, 0] == 20 and sheet[89, 0, 0] == 50 and sheet[89, 79, 0] == 0


def test_frame_range_and_sheet_spread():
    assert parse_frame_range("10:20", 100) == (10, 20)
    assert parse_frame_range(":5", 3) == (0, 3)
    assert parse_frame_range(None, 7) == (0, 7)
    with pytest.raises(OverlayError, match="A:B"):
        parse_frame_range("7", 10)
    assert sheet_indices(0, 100, 5) == {0, 25, 50, 74, 99}
    assert sheet_indices(3, 6, 50) == {3, 4, 5}


def _write_clip(path, frames):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (frames[0].shape[1], frames[0].shape[0]))
    for frame in frames:
        writer.write(frame)
    writer.release()


def test_overlay_cli_renders_a_finished_run_with_ground_truth(tmp_path, capsys):
    from pose.data.posetrack import sequence_from_arrays, write_sequence
    from tests.tracker.viz.test_render import _person
    from tracker.viz.overlay import main
    from tracker.viz.render import track_color

    num_frames = 8
    _write_clip(tmp_path / "walk.mp4", [np.full((240, 320, 3), 40, np.uint8)] * num_frames)
    people = [np.stack([_person(80 + 5 * t, 120), _person(240 - 5 * t, 120)]) for t in range(num_frames)]
    scores = [np.ones((2, 17)) for _ in range(num_frames)]
    names = [f"images/walk/{t:06d}.jpg" for t in range(num_frames)]
    pred = sequence_from_arrays("walk", names, people, scores, [np.array([1, 2])] * num_frames, 0.1)
    write_sequence(pred, tmp_path / "walk.json")
    # Ground truth: the same poses, head boxes around the head; ids swap half-way to exercise the switch marker.
    truth = sequence_from_arrays("walk", names, people, scores, [np.array([0, 1])] * num_frames, 0.1)
    for frame in truth.frames:
        for person in frame.people:
            top = person.keypoints[2, :2]
            person.head_box = np.array([top[0] - 10, top[1], top[0] + 10, top[1] + 20])
            person.scores = None
    write_sequence(truth, tmp_path / "walk_gt.json")

    code = main(["--video", str(tmp_path / "walk.mp4"), "--pred", str(tmp_path / "walk.json"), "--out",
                 str(tmp_path / "out"), "--gt", str(tmp_path / "walk_gt.json"), "--frames", "2:7", "--png"])
    assert code == 0, capsys.readouterr().err
    assert _count_frames(tmp_path / "out" / "walk_overlay.mp4") == (5, (240, 320, 3))
    assert sorted(p.name for p in (tmp_path / "out" / "walk_frames").iterdir()) == [
        f"{i:06d}.png" for i in range(2, 7)]
    frame = cv2.cvtColor(cv2.imread(str(tmp_path / "out" / "walk_frames" / "000004.png")), cv2.COLOR_BGR2RGB)
    x, y = np.round(people[4][1, 9]).astype(int)  # person 2's left wrist in frame 4
    assert tuple(frame[y, x]) == track_color(2)
    assert (tmp_path / "out" / "walk_sheet.png").exists()


def test_overlay_cli_errors_are_one_sentence(tmp_path, capsys):
    from tracker.viz.overlay import main

    _write_clip(tmp_path / "v.mp4", [np.zeros((32, 32, 3), np.uint8)] * 2)
    (tmp_path / "bad.json").write_text("{not json")
    assert main(["--video", str(tmp_path / "v.mp4"), "--pred", str(tmp_path / "bad.json"), "--out",
                 str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "bad.json" in err[0]
    assert main(["--video", str(tmp_path / "missing.mp4"), "--pred", str(tmp_path / "bad.json"), "--out",
                 str(tmp_path / "o")]) == 2
    assert "missing.mp4" in capsys.readouterr().err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_vtest_overlay_video_and_contact_sheet(tmp_path):
    """The first 50 frames of vtest.avi through tracker.run --overlay and tracker.viz.overlay's contact sheet.

    CI keeps the files for a look: .ci/run sets POSETRACK_ARTIFACTS (out/ci-artifacts in the checkout)."""
    import os
    from pathlib import Path

    from tests.conftest import shared_path
    from tracker.viz.overlay import main as overlay_main
    from tracker.run import main as run_main

    video = shared_path("data", "videos", "vtest.avi")
    yolox = shared_path("data", "models", "yolox_nano.onnx")
    out = Path(os.environ.get("POSETRACK_ARTIFACTS") or tmp_path)
    code = run_main(["--video", str(video), "--out", str(out), "--max-frames", "50", "--detector", f"onnx:{yolox}",
                     "--pose-weights", "hrnet_synthetic", "--overlay", "--panels", "flow,heatmap:0", "--no-progress",
                     "--quiet"])
    assert code == 0
    assert _count_frames(out / "vtest_overlay.mp4") == (50, (576, 768, 3))
    # the panels sit in the bottom corners (a quarter of the height, framed in white): flow right, heatmaps left
    capture = cv2.VideoCapture(str(out / "vtest_overlay.mp4"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 10)
    _, frame = capture.read()
    capture.release()
    original = cv2.VideoCapture(str(video))
    original.set(cv2.CAP_PROP_POS_FRAMES, 10)
    _, plain = original.read()
    original.release()
    top = 576 - 576 // 4
    for columns in (slice(0, 100), slice(668, 768)):
        assert np.abs(frame[top + 20:, columns].astype(int) - plain[top + 20:, columns]).mean() > 20
    assert overlay_main(["--video", str(video), "--pred", str(out / "vtest.json"), "--out", str(out),
                         "--frames", "0:50", "--no-video", "--sheet", "12"]) == 0
    sheet = cv2.imread(str(out / "vtest_sheet.png"))
    assert sheet.shape == (3 * 240, 4 * 320, 3)   # 12 frames of 768x576 as 320x240 tiles, 4 columns
