"""Overlay outputs: mp4 decodable with the right frame count and size, contact sheet grid, nothing left on failure."""
import cv2
import numpy as np
import pytest

from tracker.overlay import OverlayError, OverlayWriter, VideoWriter, contact_sheet, parse_frame_range, sheet_indices
from tracker.render import RenderOptions
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
