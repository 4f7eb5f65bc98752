"""``flow_oks`` is the paper's two-frame S_flow; ``multi_flow_oks`` keeps the track memory (Simple Baselines sec. 3.3).

S_flow compares the poses of frame t with the poses of frame t-1 moved to frame t by the flow, so a person missing
from frame t-1 starts a new track; S_multi-flow compares with the poses of the last frames, so the same person keeps
its id after a gap of up to ``memory`` frames.
"""
from __future__ import annotations

import numpy as np

from flow.propagate import propagate_keypoints
from pose.keypoints import POSETRACK18
from tests.tracker.tracking_scenes import Scene, ids_by_person
from tracker.associate import Associator, pose_similarity
from tracker.config import AssociationConfig
from tracker.pipeline import poses_with_boxes


def _hidden_for_one_frame() -> Scene:
    # person 0 walks right and is hidden in frame 2; person 1 walks left and is always seen
    return Scene([[None if t == 2 else (40 + 6 * t, 40), (250 - 6 * t, 60)] for t in range(6)])


def _steps(scene: Scene, similarity: str):
    associator = Associator(AssociationConfig(similarity=similarity, memory=3), POSETRACK18.sigmas)
    out = []
    for t in range(scene.num_frames):
        poses = poses_with_boxes(*scene.poses(t)[:2])
        out.append(associator.step(t, poses, scene.flow(t - 1) if t else None))
    return out


def test_flow_oks_compares_with_frame_t_minus_1_only():
    scene = _hidden_for_one_frame()
    flow_ids = [step.track_ids for step in _steps(scene, "flow_oks")]
    multi_ids = [step.track_ids for step in _steps(scene, "multi_flow_oks")]
    assert ids_by_person(flow_ids, scene.person_numbers()) == {0: {0, 2}, 1: {1}}   # new id after the gap
    assert ids_by_person(multi_ids, scene.person_numbers()) == {0: {0}, 1: {1}}     # memory bridges it


def test_flow_oks_candidates_are_the_previous_poses_moved_by_flow():
    scene = _hidden_for_one_frame()
    steps = _steps(scene, "flow_oks")
    for t in (1, 3, 4):
        candidates = steps[t].candidates
        previous = poses_with_boxes(*scene.poses(t - 1)[:2])
        moved, moved_scores = propagate_keypoints(previous.keypoints, scene.flow(t - 1), previous.scores)
        np.testing.assert_allclose(candidates.keypoints, moved)
        np.testing.assert_allclose(candidates.scores, moved_scores)
    # frame 3: only person 1 was in frame 2, so only its moved pose is a candidate ...
    assert len(steps[3].candidates) == 1
    # ... and the exact flow puts it on person 1's frame-3 pose: S_flow = OKS = 1
    current = poses_with_boxes(*scene.poses(3)[:2])
    similarity = pose_similarity(current, steps[3].candidates, "flow_oks", POSETRACK18.sigmas, joint_threshold=0.4)
    np.testing.assert_allclose(similarity[1, 0], 1.0)
    # multi-frame flow OKS compares with every stored pose of frames 0-2, each moved to frame 3: person 0's of
    # frames 0 and 1 and person 1's of frames 0, 1 and 2
    assert len(_steps(scene, "multi_flow_oks")[3].candidates) == 5
