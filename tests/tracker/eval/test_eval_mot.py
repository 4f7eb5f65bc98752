"""tracker.eval.mot.Accumulator equals motmetrics' MOTAccumulator (the one poseval runs), event for event count."""
from __future__ import annotations

import json

import motmetrics as mm
import numpy as np
import pytest

from tests.conftest import shared_path
from tracker.eval.cli import load_sequences, prepare_sequences
from tracker.eval.data import NUM_JOINTS
from tracker.eval.mot import _FIELDS, Accumulator, MOTCounts, frame_joint_inputs, sequence_counts

MID_METRICS = ["num_misses", "num_switches", "num_false_positives", "num_objects", "num_detections"]


def _replay(frames_inputs):
    """Feed the same (oids, hids, dists) frames to motmetrics (scipy solver, as poseval ran) and to ours."""
    ref = mm.MOTAccumulator(auto_id=True)
    ours = Accumulator(1)
    with mm.lap.set_default_solver("scipy"):
        for oids, hids, dists in frames_inputs:
            ref.update(oids, hids, dists)
            ours.update_pairs(oids, hids, dists)
    return ref, ours


def _assert_equal(ref: mm.MOTAccumulator, counts: MOTCounts, full_compute: bool, joint: int = 0) -> None:
    c = MOTCounts(*(getattr(counts, f)[joint] for f in _FIELDS))
    events = ref.events
    if full_compute:
        mid = mm.metrics.create().compute(ref, metrics=MID_METRICS, return_dataframe=False)
    else:  # the same definitions, straight from the event table (motmetrics' compute is slow)
        types = events["Type"].astype(str)
        matches, switches = (types == "MATCH").sum(), (types == "SWITCH").sum()
        mid = {"num_misses": (types == "MISS").sum(), "num_switches": switches,
               "num_false_positives": (types == "FP").sum(), "num_detections": matches + switches,
               "num_objects": ((types == "MISS") | (types == "MATCH") | (types == "SWITCH")).sum()}
    assert (c.misses, c.switches, c.false_positives, c.objects, c.detections) == tuple(
        mid[k] for k in MID_METRICS)
    # poseval's MOTP numerator: every event's distance (RAW, MATCH, SWITCH, TRANSFER, ASCEND, MIGRATE).
    assert c.sum_d_all_events == pytest.approx(events["D"].sum(), abs=1e-9)
    matched = events[events["Type"].astype(str).isin(["MATCH", "SWITCH"])]["D"].sum()
    assert c.sum_d_matched == pytest.approx(matched, abs=1e-9)


@pytest.mark.parametrize("case", ["perfect", "jitter_small", "dropped_persons", "swapped_ids", "realistic",
                                  "realistic_2017", "no_predictions"])
def test_accumulator_equals_motmetrics_on_reference_case(case):
    folder = shared_path("reference", "poseval", case)
    prepared = prepare_sequences(load_sequences(folder / "gt", folder / "pred"))
    for seq in prepared:
        all_joints = sequence_counts(seq.frames, seq.dists)  # the 15 joints advanced together
        for j in range(NUM_JOINTS):
            inputs = [frame_joint_inputs(f, d, j) for f, d in zip(seq.frames[:-1], seq.dists[:-1])]
            ref, ours = _replay(inputs)
            _assert_equal(ref, ours.counts, full_compute=(j == 0))
            _assert_equal(ref, all_joints, full_compute=False, joint=j)


def _random_frames(rng: np.random.Generator, num_frames: int):
    """Objects entering and leaving, hypotheses with id switches, NaN (cannot pair) and tied distances."""
    num_objects = int(rng.integers(1, 7))
    hyp_of = np.arange(num_objects) + 100  # current hypothesis id of each object
    next_hyp = 100 + num_objects
    frames = []
    for _ in range(num_frames):
        if rng.random() < 0.3:  # identity switch: two objects trade hypotheses, or one gets a new id
            if num_objects > 1 and rng.random() < 0.5:
                a, b = rng.choice(num_objects, 2, replace=False)
                hyp_of[[a, b]] = hyp_of[[b, a]]
            else:
                hyp_of[rng.integers(num_objects)] = next_hyp
                next_hyp += 1
        present = rng.random(num_objects) < 0.8
        detected = present & (rng.random(num_objects) < 0.85)
        oids = np.nonzero(present)[0]
        hids = list(hyp_of[detected])
        extra = int(rng.integers(0, 3))  # false positives
        hids += list(range(500, 500 + extra))
        hids = np.array(hids, dtype=np.int64)
        rng.shuffle(hids)
        dists = rng.random((len(oids), len(hids))) * 0.6
        if rng.random() < 0.5:
            dists = np.round(dists, 1)  # ties
        true_hyp = hyp_of[oids]
        dists[true_hyp[:, None] == hids[None, :]] *= 0.3
        dists[dists > 0.5] = np.nan
        dists[rng.random(dists.shape) < 0.1] = np.nan
        frames.append((oids, hids, dists))
    return frames


@pytest.mark.parametrize("seed", range(40))
def test_accumulator_equals_motmetrics_on_random_sequences(seed):
    rng = np.random.default_rng(seed)
    ref, ours = _replay(_random_frames(rng, 40))
    _assert_equal(ref, ours.counts, full_compute=True)


def test_poseval_empty_frame_rule_is_one_miss_one_fp():
    """The dummy object and hypothesis of an empty frame: exactly one miss and one FP, never a match."""
    from tracker.eval.data import EvalFrame

    empty = EvalFrame(np.zeros((2, 15, 2)), np.ones((2, 15), bool), np.array([3, 4]), np.ones(2),
                      np.zeros((0, 15, 2)), np.zeros((0, 15), bool), np.zeros((0, 15)), np.zeros(0, np.int64), "x")
    oids, hids, d = frame_joint_inputs(empty, np.zeros((0, 2, 15)), 0)
    acc = Accumulator(1)
    acc.update_pairs(oids, hids, d)
    assert (acc.counts.misses, acc.counts.false_positives, acc.counts.objects) == (1, 1, 1)
    assert sequence_counts([empty, empty], [np.zeros((0, 2, 15))] * 2).misses.tolist() == [1] * 15
    oids, hids, d = frame_joint_inputs(empty, np.zeros((0, 2, 15)), 0, textbook=True)
    acc = Accumulator(1)
    acc.update_pairs(oids, hids, d)
    assert (acc.counts.misses, acc.counts.false_positives, acc.counts.objects) == (2, 0, 2)


def test_expected_json_names_match_poseval_order():
    exp = json.loads((shared_path("reference", "poseval", "perfect") / "expected.json").read_text())
    from tracker.eval.data import JOINT_NAMES

    assert tuple(exp["joint_names_poseval_order"]) == JOINT_NAMES
