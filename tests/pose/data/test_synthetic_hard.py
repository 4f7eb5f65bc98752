"""Hard synthetic scenes (pose.data.synthetic.hard): exits and returns, hiding behind posts, alike clothing."""
from __future__ import annotations

import json

import numpy as np

from pose.data import synthetic as syn
from pose.data.synthetic.hard import HardConfig, ScriptedPerson, generate_hard_dataset, make_hard_scene


def _visible_runs(scene, frames):
    """person -> list of (first, stop) frame runs in which they are in the ground truth."""
    seen = {p.track_id: np.zeros(frames, bool) for p in scene.people}
    for t in range(frames):
        _, truth = syn.render_frame(scene, t)
        for tid in truth.track_ids:
            seen[int(tid)][t] = True
    runs = {}
    for tid, s in seen.items():
        edges = np.flatnonzero(np.diff(np.r_[0, s.astype(np.int8), 0]))
        runs[tid] = list(zip(edges[::2].tolist(), edges[1::2].tolist()))
    return runs


def test_people_leave_and_come_back_after_seconds():
    config = HardConfig(size=(320, 240))
    gaps = []
    for video in range(2):
        scene = make_hard_scene(syn.video_rng(3, video), 250, config)
        assert all(isinstance(p, ScriptedPerson) for p in scene.people) and scene.occluders
        for runs in _visible_runs(scene, 250).values():
            gaps += [(b0 - a1) / config.fps for (_, a1), (b0, _) in zip(runs[:-1], runs[1:])]
    long = [g for g in gaps if g >= 1.0]
    assert len(long) >= 3 and max(long) <= 6.0                       # several absences of 1 to about 5 s


def test_scripted_person_turns_and_same_seed_same_scene():
    a = make_hard_scene(syn.video_rng(4, 0), 200, HardConfig(size=(320, 240)))
    b = make_hard_scene(syn.video_rng(4, 0), 200, HardConfig(size=(320, 240)))
    assert [p.xs for p in a.people] == [p.xs for p in b.people]
    person = ScriptedPerson(track_id=0, motion=a.people[0].motion, appearance=a.people[0].appearance, yaw=1.5,
                            height=100.0, ground_y=200.0, x0=0.0, velocity=0.0, times=(0, 10, 20, 30),
                            xs=(0.0, 50.0, 50.0, 10.0))
    assert person.root(5) == (25.0, 200.0) and person.yaw_at(5) == 1.5
    assert person.yaw_at(15) == 1.5 and person.yaw_at(25) == -1.5        # stands facing right, then walks left


def test_alike_clothing_and_dataset_files(tmp_path):
    scene = make_hard_scene(syn.video_rng(0, 0), 60, HardConfig(size=(320, 240), similar_clothing=1.0))
    shirts = np.array([p.appearance.colors[1] for p in scene.people])
    assert np.abs(shirts - shirts[0]).max() <= 12.0 + 1e-3
    summary = generate_hard_dataset(tmp_path, 1, 30, 0, HardConfig(size=(320, 240)), write_videos=False,
                                    progress=False)
    assert summary["frames"] == 30
    gt = json.loads((tmp_path / "annotations" / "000000_mpii_test.json").read_text())
    assert len(gt["images"]) == 30 and (tmp_path / "detections" / "000000_mpii_test.json").is_file()
