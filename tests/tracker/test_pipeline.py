"""The tracking loop: tracking-only mode, flow box propagation filling missed detections, detection every k-th
frame, streaming, the COCO -> PoseTrack head joints, and the track config files."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pose.keypoints import COCO17, POSETRACK18
from tests.tracker.tracking_scenes import Scene, crossing_scene, ids_by_person
from tracker import track
from tracker.config import TrackConfig, TrackConfigError, load_track_config
from tracker.posetrack_joints import to_posetrack18
from tracker.components import PipelineError
from tracker.timing import StageTimer
from tracker.types import SOURCE_DETECTED, SOURCE_PROPAGATED, Boxes, Frame


def _persons_of(scene: Scene, tracked) -> list[int]:
    """The scene person each output pose is (nearest true pose)."""
    kp, _, people = scene.poses(tracked.index)
    if not len(tracked.poses):
        return []
    body = POSETRACK18.flip_permutation() >= 0  # every joint
    distance = np.abs(tracked.poses.keypoints[:, None, body] - kp[None, :, body]).sum(axis=(2, 3))
    return [people[j] for j in distance.argmin(axis=1)]


def test_tracking_only_crossing_keeps_ids():
    scene = crossing_scene()
    frames = list(track(scene.frames(), poses=scene.given_poses(), flow_estimator=scene.flow_estimator(),
                        association={"similarity": "multi_flow_oks"}))
    assert len(frames) == scene.num_frames
    assert ids_by_person([f.track_ids for f in frames], scene.person_numbers()) == {0: {0}, 1: {1}}
    # tracking-only output keeps the given poses (already in the PoseTrack layout)
    np.testing.assert_allclose(frames[5].poses.keypoints, scene.poses(5)[0])
    # the same without frames has no flow, and plain OKS swaps the crossing people (a 16 px step scores OKS 0.29
    # with the poses' 15 %-longer boxes as OKS areas: a lower match threshold lets plain OKS match at all)
    plain = list(track(None, poses=scene.given_poses(), association__similarity="oks",
                       association__match_threshold=0.2))
    assert ids_by_person([f.track_ids for f in plain], scene.person_numbers()) == {0: {0, 1}, 1: {0, 1}}
    with pytest.raises(PipelineError, match="needs the video frames"):
        track(None, poses=scene.given_poses(), association__similarity="flow_oks")


def _oracle_run(scene: Scene, missed=frozenset(), **overrides):
    return list(track(scene.frames(), detector=scene.oracle_detector(missed),
                      pose_estimator=scene.oracle_pose_estimator(), layout="posetrack18",
                      flow_estimator=scene.flow_estimator(), **overrides))


def test_flow_propagation_recovers_a_missed_detection():
    scene = Scene([[(60 + 6 * t, 40), (220 - 6 * t, 80)] for t in range(7)])
    missed = {(3, 0), (4, 0)}                                      # person 0 undetected in frames 3 and 4
    frames = _oracle_run(scene, missed)
    assert [sorted(_persons_of(scene, f)) for f in frames] == [[0, 1]] * 7
    ids = [dict(zip(_persons_of(scene, f), f.track_ids.tolist())) for f in frames]
    assert all(i == {0: ids[0][0], 1: ids[0][1]} for i in ids)    # both keep their id throughout
    f3 = frames[3]
    assert len(f3.detected_boxes) == 1 and len(f3.propagated_boxes) == 2
    # the propagated box of person 0 survives NMS (no detection competes); person 1's detection beats its own
    # propagated box (score 0.9 > 0.9 x 0.9), which is suppressed
    assert sorted(f3.suppressed_boxes.source.tolist()) == [SOURCE_PROPAGATED]
    np.testing.assert_allclose(f3.propagated_boxes.scores, [0.81, 0.81], atol=1e-6)
    # frame 4: person 0 carried by flow twice, score 0.9 * 0.9 * 0.9
    assert np.isclose(frames[4].propagated_boxes.scores, 0.729, atol=1e-6).any()

    # without propagation the missed person is simply absent
    no_flow = _oracle_run(scene, missed, flow={"propagate": False}, association={"similarity": "oks"})
    assert [sorted(_persons_of(scene, f)) for f in no_flow][2:6] == [[0, 1], [1], [1], [0, 1]]


def test_propagated_boxes_fade_below_the_box_threshold():
    scene = Scene([[(100, 40)] for _ in range(8)])
    missed = {(t, 0) for t in range(1, 8)}                        # detected only in frame 0 (score 0.9)
    frames = _oracle_run(scene, missed)
    # propagated scores 0.81, 0.729, 0.656, 0.590, 0.531, then 0.478 < 0.5: dropped
    assert [len(f.poses) for f in frames] == [1, 1, 1, 1, 1, 1, 0, 0]


def test_detection_every_second_frame():
    scene = Scene([[(60 + 5 * t, 40), (220 - 5 * t, 80)] for t in range(6)])
    frames = _oracle_run(scene, detector__every=2)
    for f in frames:
        assert len(f.poses) == 2
        sources = set(np.concatenate([f.detected_boxes.source, f.propagated_boxes.source]).tolist())
        assert (SOURCE_DETECTED in sources) == (f.index % 2 == 0)
    assert len({tuple(sorted(f.track_ids.tolist())) for f in frames}) == 1


def test_streaming_consumes_one_frame_at_a_time():
    scene = Scene([[(100, 40)] for _ in range(50)])
    consumed = []

    def frames():
        for t, image in enumerate(scene.frames()):
            consumed.append(t)
            yield image

    timer = StageTimer()
    stream = track(frames(), detector=scene.oracle_detector(), pose_estimator=scene.oracle_pose_estimator(),
                   layout="posetrack18", flow_estimator=scene.flow_estimator(), timer=timer)
    first = next(stream)
    assert first.index == 0 and consumed == [0]
    rest = list(stream)
    assert len(rest) == 49 and consumed == list(range(50)) and timer.frames == 50
    assert {"detect", "flow", "pose", "associate"} <= set(timer.seconds)


def test_coco17_head_joints_hand_computed():
    keypoints = np.zeros((1, 17, 2), np.float32)
    scores = np.full((1, 17), 0.9, np.float32)
    keypoints[0, COCO17.index("nose")] = (50, 20)
    keypoints[0, COCO17.index("left_shoulder")] = (60, 40)
    keypoints[0, COCO17.index("right_shoulder")] = (40, 44)
    keypoints[0, COCO17.index("left_eye")] = (53, 17)
    keypoints[0, COCO17.index("left_ankle")] = (57, 130)
    scores[0, COCO17.index("right_shoulder")] = 0.6
    scores[0, COCO17.index("left_eye")] = 0.7
    scores[0, COCO17.index("right_eye")] = 0.5
    out_kp, out_sc = to_posetrack18(keypoints, scores, "coco17", lift=0.5, top_scale=1.0)
    # shoulders' midpoint (50, 42); head_bottom = (50, 42) + 0.5 * ((50, 20) - (50, 42)) = (50, 31)
    # head_top = nose + (nose - head_bottom) = (50, 9)
    np.testing.assert_allclose(out_kp[0, POSETRACK18.index("head_bottom")], [50, 31])
    np.testing.assert_allclose(out_kp[0, POSETRACK18.index("head_top")], [50, 9])
    assert out_sc[0, POSETRACK18.index("head_bottom")] == pytest.approx(0.6)   # min(nose, shoulders)
    assert out_sc[0, POSETRACK18.index("head_top")] == pytest.approx(0.6)      # min(nose, mean of eyes)
    np.testing.assert_allclose(out_kp[0, POSETRACK18.index("left_ankle")], [57, 130])  # shared slots unchanged
    same_kp, _ = to_posetrack18(out_kp, out_sc, "posetrack18")
    np.testing.assert_array_equal(same_kp, out_kp)


def test_default_yaml_documents_the_dataclass_defaults():
    assert load_track_config("default") == TrackConfig(name="default")
    cpu = load_track_config("cpu", ["detector.path=model.onnx", "association.memory=5", "device=cuda"])
    assert (cpu.detector.kind, cpu.detector.path, cpu.association.memory, cpu.device) == (
        "onnx", "model.onnx", 5, "cuda")
    assert cpu.output == TrackConfig().output and dataclasses.is_dataclass(cpu.flow)


def test_track_config_errors(tmp_path):
    with pytest.raises(TrackConfigError, match="unknown config key 'association.memroy'"):
        load_track_config("default", ["association.memroy=2"])
    with pytest.raises(TrackConfigError, match="is not one of"):
        load_track_config("default", ["association.similarity=cosine"])
    with pytest.raises(TrackConfigError, match="needs a int"):
        load_track_config("default", ["association.memory=two"])
    with pytest.raises(TrackConfigError, match="not found"):
        load_track_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("association: [1, 2")
    with pytest.raises(TrackConfigError, match="not valid YAML"):
        load_track_config(bad)


def test_pose_oks_nms_removes_a_second_pose_of_one_person():
    """Two boxes on one person that overlap too little for box NMS give the same pose twice; OKS-NMS keeps one."""
    scene = Scene([[(100, 60)] for _ in range(3)])

    def detector(frame):
        kp, _, _ = scene.poses(frame.index)
        x1, y1 = kp[0].min(axis=0) - 10
        x2, y2 = kp[0].max(axis=0) + 10
        half = (x2 - x1) * 0.6            # a second box shifted sideways: IoU with the first below 0.5
        return Boxes.detected([[x1, y1, x2, y2], [x1 + half, y1, x2 + half, y2]], [0.9, 0.8])

    def run(threshold):
        return list(track(scene.frames(), detector=detector, pose_estimator=scene.oracle_pose_estimator(),
                          layout="posetrack18", flow_estimator=scene.flow_estimator(),
                          nms={"pose_oks_threshold": threshold}))

    without = run(0.0)
    assert [len(f.poses) for f in without] == [2, 2, 2]
    with_nms = run(0.5)
    assert [len(f.poses) for f in with_nms] == [1, 1, 1]
    assert len({int(f.track_ids[0]) for f in with_nms}) == 1
    # the duplicate's box is reported as suppressed (the overlay draws it faint)
    assert len(with_nms[0].suppressed_boxes) == 1
    np.testing.assert_allclose(with_nms[0].poses.boxes[0], detector(Frame(0, scene.frames()[0])).xyxy[0])


@pytest.mark.parametrize("override, message", [
    ({"nms.iou_threshold": -1}, "nms.iou_threshold is a score or overlap between 0 and 1"),
    ({"association.match_threshold": 1.5}, "association.match_threshold"),
    ({"flow.box_extend": -0.6}, "flow.box_extend must be >= 0"),
    ({"pose.batch_size": -4}, "pose.batch_size"),
    ({"flow.preset": "slowest"}, "flow.preset 'slowest' needs flow.name dis and one of ultrafast, fast, medium"),
    ({"flow.name": "farneback", "flow.preset": "fast"}, "the other flow backends take no preset"),
])
def test_track_config_values_out_of_range_are_named(override, message):
    with pytest.raises(TrackConfigError, match=message):
        load_track_config("default", override)


def test_flow_preset_reaches_the_dis_estimator():
    from tracker.components import build_flow_estimator

    assert repr(build_flow_estimator(load_track_config("cpu"), "cpu")) == "OpenCVFlow('dis/ultrafast')"
    assert repr(build_flow_estimator(load_track_config("default"), "cpu")) == "OpenCVFlow('dis/medium')"
