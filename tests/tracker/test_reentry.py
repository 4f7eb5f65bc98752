"""Re-entry of lost tracks (tracker.reentry): motion, pose-shape and colour cues, time-based memory, young tracks."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from pose.keypoints import POSETRACK18
from tests.tracker.tracking_scenes import TEMPLATE, TEMPLATE_SCORES
from tracker.associate import Associator
from tracker.config import AssociationConfig, TrackConfigError, load_track_config
from tracker.pipeline import poses_with_boxes
from tracker.reentry import MOTION_GROWTH, MOTION_RADIUS, Description, PoseDescriber, Reentry, _Track, bhattacharyya

JOINTS = POSETRACK18.joints


def _pose(anchor, leg_scale: float = 1.0, visible=None) -> tuple[np.ndarray, np.ndarray]:
    kp = TEMPLATE.copy()
    legs = [JOINTS.index(n) for n in ("left_knee", "right_knee", "left_ankle", "right_ankle")]
    kp[legs, 1] = 60 + (kp[legs, 1] - 60) * leg_scale          # longer legs below the hips (y = 60)
    for side, x in (("left", -12), ("right", 12)):               # and longer arms from the shoulders (x, 28)
        arm = [JOINTS.index(f"{side}_{p}") for p in ("elbow", "wrist")]
        kp[arm] = (x, 28) + (kp[arm] - (x, 28)) * leg_scale
    scores = TEMPLATE_SCORES.copy()
    if visible is not None:
        scores = np.where(np.isin(np.arange(17), visible), scores, 0.0)
    return kp + np.asarray(anchor, np.float32), scores


def _image(people, colours, size=(400, 240)) -> np.ndarray:
    """A grey frame with each person's torso quadrilateral and legs painted in their colour (RGB)."""
    image = np.full((size[1], size[0], 3), 128, np.uint8)
    for (kp, _), colour in zip(people, colours):
        j = [JOINTS.index(n) for n in ("left_shoulder", "right_shoulder", "right_hip", "left_hip")]
        cv2.fillConvexPoly(image, np.round(kp[j]).astype(np.int32), colour)
        for side in ("left", "right"):
            leg = [JOINTS.index(f"{side}_{p}") for p in ("hip", "knee", "ankle")]
            cv2.polylines(image, [np.round(kp[leg]).astype(np.int32)], False, colour, 8)
    return image


def _run(frames, config: AssociationConfig, fps: float = 25.0):
    """frames: list of [(keypoints, scores), ...] per frame, optionally (people, image). Returns ids per frame."""
    associator = Associator(config, POSETRACK18.sigmas, JOINTS)
    out = []
    for t, frame in enumerate(frames):
        people, image = frame if isinstance(frame, tuple) else (frame, None)
        kp = np.array([p[0] for p in people], np.float32).reshape(-1, 17, 2)
        sc = np.array([p[1] for p in people], np.float32).reshape(-1, 17)
        ids = associator.step(t, poses_with_boxes(kp, sc), image=image, time_s=t / fps).track_ids
        out.append(ids.tolist())
    return out


def _walker(hidden: range, frames: int = 60, speed: float = 3.0):
    """One person walking right at ``speed`` px/frame, unseen in the ``hidden`` frames."""
    return [[] if t in hidden else [_pose((40 + speed * t, 40))] for t in range(frames)]


ONLY_MOTION = dict(reentry_motion=True, reentry_shape=False, reentry_colour=False)


def test_walker_hidden_past_memory_comes_back_with_its_id_only_with_reentry():
    frames = _walker(range(20, 40))                                   # 20 frames = 0.8 s at 25 fps, memory is 3
    without = _run(frames, AssociationConfig(similarity="oks", lost_seconds=0))
    assert without[19] == [0] and without[40] == [1]                  # FlowTrack alone: a new id
    with_reentry = _run(frames, AssociationConfig(similarity="oks", lost_seconds=2.0, **ONLY_MOTION))
    assert {i for ids in with_reentry for i in ids} == {0}


def test_lost_time_is_seconds_not_frames():
    frames = _walker(range(20, 40), speed=1.0)                        # 20 hidden frames
    config = AssociationConfig(similarity="oks", lost_seconds=1.5, **ONLY_MOTION)
    assert _run(frames, config, fps=25.0)[40] == [0]                  # 0.84 s since last seen: still lost
    assert _run(frames, config, fps=10.0)[40] == [1]                  # 2.1 s: forgotten, a new id


def test_motion_gate_rejects_a_pose_far_from_the_prediction():
    frames = _walker(range(20, 30), speed=0.0)
    frames[30:] = [[_pose((340, 40))] for _ in frames[30:]]           # reappears 300 px away 0.44 s later
    config = AssociationConfig(similarity="oks", lost_seconds=5.0, **ONLY_MOTION)
    torso = 32.0                                                      # template shoulders y=28, hips y=60
    assert 300 > torso * (MOTION_RADIUS + MOTION_GROWTH * 0.44)       # outside the gate radius
    assert _run(frames, config)[30] == [1]


def _swap_scene(shape: bool):
    """A at x=60, B at x=200 standing; both leave for 2 s, then come back at each other's place. With ``shape`` B
    has arms and legs 1.4x as long as A's; otherwise A wears red and B blue."""
    a_leg, b_leg = (1.0, 1.4) if shape else (1.0, 1.0)
    frames = []
    for t in range(90):
        if 20 <= t < 70:
            people = []
        elif t < 20:
            people = [_pose((60, 40), a_leg), _pose((200, 40), b_leg)]
        else:
            people = [_pose((200, 40), a_leg), _pose((60, 40), b_leg)]    # A listed first, now on the right
        frames.append((people, None if shape else _image(people, [(220, 30, 30), (30, 30, 220)])))
    return frames


@pytest.mark.parametrize("cue", ["reentry_colour", "reentry_shape"])
def test_appearance_cue_undoes_a_swap_that_motion_alone_makes(cue):
    frames = _swap_scene(shape=cue == "reentry_shape")
    motion = _run(frames, AssociationConfig(similarity="oks", lost_seconds=5.0, **ONLY_MOTION))
    assert motion[19] == [0, 1] and motion[70] == [1, 0]              # nearest predicted place: swapped
    both = _run(frames, AssociationConfig(similarity="oks", lost_seconds=5.0, **{**ONLY_MOTION, cue: True}))
    assert both[70] == [0, 1] and both[89] == [0, 1]


def test_young_track_is_renamed_once_its_appearance_is_seen():
    head = [JOINTS.index(n) for n in ("nose", "head_bottom", "head_top")]
    frames = []
    for t in range(60):
        if t < 15:
            people = [_pose((100, 40))]
        elif t < 40:
            people = []
        elif t < 44:
            people = [_pose((100, 40), visible=head)]                 # comes back showing only the head
        else:
            people = [_pose((100, 40))]
        frames.append((people, _image(people, [(30, 200, 40)])))
    config = AssociationConfig(similarity="oks", lost_seconds=5.0, reentry_motion=False, reentry_shape=False,
                               reentry_colour=True)
    ids = _run(frames, config)
    assert ids[40] == [1]                                             # no colour seen yet: a new id
    assert ids[44] == [0] and ids[59] == [0]                          # torso seen: back to its old id, and kept


def test_describer_values():
    describe = PoseDescriber(JOINTS, joint_threshold=0.4)
    kp, sc = _pose((50, 30), leg_scale=1.5)
    image = _image([(kp, sc)], [(200, 40, 40)])
    (d,) = describe(poses_with_boxes(kp[None], sc[None]), image)
    assert d.torso == pytest.approx(np.hypot(4, 32))                 # shoulder (+-12, 28) to hip (+-8, 60)
    thigh = 20 * 1.5                                                  # hip y 60 to knee y 80, scaled
    assert np.exp(d.shape[2]) == pytest.approx(thigh / d.torso)       # thigh / torso
    assert d.colour[0].sum() == pytest.approx(1.0) and np.isfinite(d.colour[1]).all()
    (blank,) = describe(poses_with_boxes(kp[None], sc[None]), None)  # no frame: no colour, shape still there
    assert np.isnan(blank.colour).all() and np.isfinite(blank.shape).all()


def test_config_keys_and_validation():
    config = load_track_config("default")
    assert config.association.lost_seconds > 0 and config.association.reentry_colour
    with pytest.raises(TrackConfigError, match="lost_seconds"):
        load_track_config("default", ["association.lost_seconds=-1"])
    with pytest.raises(TrackConfigError, match="reentry_max_cost"):
        load_track_config("default", ["association.reentry_max_cost=2"])


def test_bhattacharyya_matches_opencv_region_by_region():
    rng = np.random.default_rng(3)
    a, b = rng.random((3, 2, 48)), rng.random((4, 2, 48))   # unnormalised too: OpenCV divides by the sums
    a[1, 0] = np.nan                                         # a region without a histogram
    distances = bhattacharyya(a, b)
    for p in range(3):
        for q in range(4):
            for r in range(2):
                if p == 1 and r == 0:
                    assert np.isnan(distances[p, q, r])
                    continue
                expected = cv2.compareHist(a[p, r].astype(np.float32), b[q, r].astype(np.float32),
                                           cv2.HISTCMP_BHATTACHARYYA)
                assert distances[p, q, r] == pytest.approx(expected, abs=1e-6)


def test_cost_of_a_lost_track_never_described():
    """A track whose poses never had a centre (no box, no confident joint) has no shape or colour: its cost comes
    from the cues it has, without failing."""
    reentry = Reentry(AssociationConfig(), JOINTS)
    reentry.tracks[7] = _Track(born=0.0, last_seen=0.5)           # observed only without a centre
    seen = _Track(born=0.0)
    kp, sc = _pose((50, 30))
    (description,) = PoseDescriber(JOINTS, 0.4)(poses_with_boxes(kp[None], sc[None]), None)
    seen.observe(0.5, description)
    reentry.tracks[8] = seen
    cost = reentry.cost([description], [-1], [7, 8], 1.0, None)
    assert np.isinf(cost[0, 0])                                   # nothing to compare: no cue, no match
    assert cost[0, 1] == pytest.approx(0.0, abs=1e-9)             # the same pose half a second later, standing
