"""Detection every k-th frame: a person carried by flow between detector frames keeps its pose and its id.

A propagated box scores (previous box score) x ``flow.propagated_box_score`` once per detector frame that does not
detect the person again, not once per frame, so with ``detector.every = 12`` nobody fades out between two detector
frames; a person the detector keeps missing still fades out after a few detector frames.
"""
from __future__ import annotations

import numpy as np

from tests.tracker.tracking_scenes import Scene, ids_by_person
from tracker import track


def _oracle_run(scene: Scene, missed=frozenset(), **overrides):
    return list(track(scene.frames(), detector=scene.oracle_detector(missed),
                      pose_estimator=scene.oracle_pose_estimator(), layout="posetrack18",
                      flow_estimator=scene.flow_estimator(), **overrides))


def test_every_12_keeps_every_person_and_every_id():
    scene = Scene([[(60 + 3 * t, 40), (220 - 3 * t, 90)] for t in range(37)])  # detector frames 0, 12, 24, 36
    frames = _oracle_run(scene, detector__every=12)
    assert [len(f.poses) for f in frames] == [2] * scene.num_frames
    assert ids_by_person([f.track_ids for f in frames], scene.person_numbers()) == {0: {0}, 1: {1}}
    # between detector frames the propagated boxes keep the detection's score: no detector frame was missed
    np.testing.assert_allclose(frames[11].propagated_boxes.scores, [0.9, 0.9], atol=1e-6)
    # on a detector frame the propagated boxes score 0.9 x 0.9 and lose NMS to the detections
    np.testing.assert_allclose(frames[12].propagated_boxes.scores, [0.81, 0.81], atol=1e-6)
    assert len(frames[12].detected_boxes) == 2


def test_a_person_missed_by_the_detector_fades_per_missed_detector_frame():
    scene = Scene([[(100, 40), (220, 90)] for _ in range(50)])
    missed = {(t, 0) for t in range(1, 50)}  # person 0 detected only in frame 0 (score 0.9)
    frames = _oracle_run(scene, missed, detector__every=10)
    counts = [len(f.poses) for f in frames]
    # detector frames 10, 20, 30, 40 miss person 0: 0.81, 0.729, 0.656, 0.590, then 0.531 at 40 ... all >= 0.5
    # ... and the fifth miss (frame 50) would be 0.478; within 50 frames person 0 stays, scored per miss
    assert counts == [2] * 50
    scores = {f.index: float(f.propagated_boxes.scores.min()) for f in frames if len(f.propagated_boxes)}
    np.testing.assert_allclose([scores[9], scores[10], scores[19], scores[20], scores[40]],
                               [0.9, 0.81, 0.81, 0.729, 0.9 * 0.9 ** 4], atol=1e-6)
    # every frame a detector frame: the same misses drop person 0 after five frames (0.9 ** 6 < 0.5)
    every_frame = _oracle_run(Scene(scene.positions[:8]), missed)
    assert [len(f.poses) for f in every_frame] == [2, 2, 2, 2, 2, 2, 1, 1]
