"""Frame sources: video files through decord / PyAV / OpenCV, image folders, arrays; metadata; streaming; errors."""
from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from tests.conftest import shared_path
from tracker.video import ArraySource, ImageFolderSource, VideoError, VideoFileSource, open_source


@pytest.fixture(scope="module")
def vtest():
    return shared_path("data", "videos", "vtest.avi")


@pytest.mark.parametrize("backend", ["decord", "pyav", "opencv"])
def test_video_metadata_and_first_frames(vtest, backend):
    source = VideoFileSource(vtest, backends=(backend,))
    info = source.info
    assert (info.name, info.fps, info.width, info.height, info.num_frames, info.backend) == (
        "vtest", 10.0, 768, 576, 795, backend)
    frames = list(itertools.islice(source, 3))
    assert [f.index for f in frames] == [0, 1, 2]
    assert all(f.image.shape == (576, 768, 3) and f.image.dtype == np.uint8 for f in frames)
    # every decoder gives the same pixels as OpenCV's reference decode (RGB order), up to 1 grey level
    capture = cv2.VideoCapture(str(vtest))
    for frame in frames:
        ok, bgr = capture.read()
        assert ok
        assert np.abs(frame.image.astype(int) - bgr[..., ::-1]).max() <= 1
    capture.release()


def test_fallback_when_decord_fails(tmp_path, monkeypatch):
    import tracker.video as video

    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, (32, 24))
    image = np.zeros((24, 32, 3), np.uint8)
    image[:, :16] = (0, 0, 255)  # BGR red on the left half
    writer.write(image)
    writer.release()

    def decord_fails(path):
        raise RuntimeError("decord cannot open this file")

    monkeypatch.setitem(video.BACKENDS, "decord", decord_fails)
    source = VideoFileSource(path)
    assert source.info.backend == "pyav"
    frames = list(source)
    assert len(frames) == 1 and (source.info.width, source.info.height) == (32, 24)
    assert frames[0].image[12, 4, 0] > 200 and frames[0].image[12, 4, 2] < 60   # red is channel 0 in RGB


def test_max_frames_stops_decoding(vtest):
    source = open_source(vtest, max_frames=4)
    assert source.info.num_frames == 4
    assert [f.index for f in source] == [0, 1, 2, 3]


def test_image_folder_in_sorted_order(tmp_path):
    for name, value in [("000002.png", 20), ("000000.jpg", 0), ("000001.png", 10)]:
        cv2.imwrite(str(tmp_path / name), np.full((8, 12, 3), value, np.uint8))
    (tmp_path / "notes.txt").write_text("not a frame")
    source = open_source(tmp_path)
    assert isinstance(source, ImageFolderSource)
    assert (source.info.width, source.info.height, source.info.num_frames) == (12, 8, 3)
    values = [int(f.image.mean().round()) for f in source]
    assert values == [0, 10, 20]


def test_arrays_are_consumed_lazily():
    consumed = []

    def generate():
        for i in range(1000):
            consumed.append(i)
            yield np.full((4, 6, 3), i % 256, np.uint8)

    source = open_source(generate())
    assert isinstance(source, ArraySource) and source.info.num_frames is None
    iterator = iter(source)
    first = next(iterator)
    assert first.index == 0 and first.image.shape == (4, 6, 3)
    assert consumed == [0]  # one frame decoded, not the whole "video"
    assert next(iterator).index == 1 and consumed == [0, 1]


def test_array_list_and_bad_arrays():
    frames = [np.zeros((4, 6, 3), np.uint8)] * 3
    source = open_source(frames)
    assert (source.info.num_frames, source.info.width, source.info.height) == (3, 6, 4)
    with pytest.raises(VideoError, match="uint8 RGB"):
        list(open_source([np.zeros((4, 6), np.uint8)]))
    with pytest.raises(VideoError, match="empty"):
        open_source([])


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(VideoError, match="does not exist"):
        open_source(tmp_path / "missing.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video")
    with pytest.raises(VideoError, match="not a video"):
        open_source(text)
    empty = tmp_path / "empty.avi"
    cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48)).release()
    with pytest.raises(VideoError, match="no frames|not a video"):
        open_source(empty)
    (tmp_path / "frames").mkdir()
    with pytest.raises(VideoError, match="no .jpg or .png"):
        open_source(tmp_path / "frames")
    with pytest.raises(VideoError, match="cannot read frames"):
        open_source(42)
