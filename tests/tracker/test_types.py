"""Per-frame dataclasses validate shapes and keep empty frames well-formed."""
import numpy as np
import pytest

from tracker.types import SOURCE_DETECTED, SOURCE_PROPAGATED, Boxes, Frame, Poses, TrackedFrame


def test_frame_requires_rgb_uint8():
    frame = Frame(3, np.zeros((4, 6, 3), np.uint8), "clip")
    assert frame.size == (6, 4)
    with pytest.raises(ValueError, match="uint8"):
        Frame(0, np.zeros((4, 6, 3), np.float32))


def test_boxes_empty_and_select():
    assert len(Boxes.empty()) == 0 and Boxes.empty().xyxy.shape == (0, 4)
    boxes = Boxes.detected([[0, 0, 10, 10], [5, 5, 20, 30]], [0.9, 0.4])
    assert boxes.source.tolist() == [SOURCE_DETECTED] * 2
    picked = boxes.select(boxes.scores > 0.5)
    assert len(picked) == 1 and picked.xyxy[0, 2] == 10
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        Boxes(np.zeros((2, 3)), np.zeros(2), np.zeros(2))


def test_poses_shapes_and_tracked_frame_ids():
    poses = Poses(np.ones((2, 17, 2)), np.ones((2, 17)), np.zeros((2, 4)), np.ones(2))
    assert poses.num_joints == 17 and len(poses.select([1])) == 1
    assert len(Poses.empty(17)) == 0 and Poses.empty(17).keypoints.shape == (0, 17, 2)
    tracked = TrackedFrame(0, poses, [4, 7])
    assert tracked.track_ids.dtype == np.int64
    with pytest.raises(ValueError, match="2 poses but 1 track ids"):
        TrackedFrame(0, poses, [4])


def test_cat_joins_boxes_and_poses_in_order():
    a = Boxes.detected([[0, 0, 10, 10]], [0.9])
    b = Boxes([[5, 5, 20, 20], [1, 2, 3, 4]], [0.5, 0.4], [SOURCE_PROPAGATED] * 2)
    both = Boxes.cat([a, b])
    assert both.xyxy.tolist() == [[0, 0, 10, 10], [5, 5, 20, 20], [1, 2, 3, 4]]
    assert both.scores.tolist() == pytest.approx([0.9, 0.5, 0.4])
    assert both.source.tolist() == [SOURCE_DETECTED, SOURCE_PROPAGATED, SOURCE_PROPAGATED]
    assert len(Boxes.cat([])) == 0 and len(Boxes.cat([Boxes.empty(), a])) == 1
    p = Poses(np.ones((1, 3, 2)), np.full((1, 3), 0.5), [[0, 0, 1, 1]], [0.7])
    q = Poses(np.zeros((2, 3, 2)), np.zeros((2, 3)), np.zeros((2, 4)), [0.1, 0.2])
    joined = Poses.cat([p, Poses.empty(3), q])
    assert len(joined) == 3 and joined.keypoints[0].tolist() == [[1, 1]] * 3
    assert joined.box_scores.tolist() == pytest.approx([0.7, 0.1, 0.2])
    with pytest.raises(ValueError, match="at least one"):
        Poses.cat([])
    moved = p.with_keypoints(np.full((1, 3, 2), 4.0), np.ones((1, 3)))
    assert moved.keypoints[0, 0].tolist() == [4, 4] and moved.boxes.tolist() == p.boxes.tolist()

