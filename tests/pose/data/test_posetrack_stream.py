"""The streaming PoseTrack writer gives the bytes of the whole-sequence writer, and leaves nothing on abort."""
from __future__ import annotations

import json

import numpy as np
import pytest

from pose.data.posetrack import PoseTrackFormatError, read_sequence, sequence_from_arrays, write_sequence
from pose.data.posetrack.stream import WRITERS, open_stream


def _random_prediction(names, seed=0):
    rng = np.random.default_rng(seed)
    kps, scs, tids, boxes, box_scores = [], [], [], [], []
    for t, _ in enumerate(names):
        n = t % 4  # frames with 0 to 3 people
        kps.append(rng.uniform(10, 500, (n, 17, 2)))
        scs.append(rng.uniform(0.0, 1.0, (n, 17)))
        tids.append(np.arange(n) + t // 3)
        corner = rng.uniform(0, 300, (n, 2))
        boxes.append(np.concatenate([corner, corner + rng.uniform(1, 90, (n, 2))], axis=1))
        box_scores.append(rng.uniform(0.5, 1.0, n))
    return kps, scs, tids, boxes, box_scores


@pytest.mark.parametrize("fmt", sorted(WRITERS))
@pytest.mark.parametrize("names", [
    [f"images/val/000342_mpii_test/{t:06d}.jpg" for t in range(23)],   # PoseTrack names: poseval image ids
    [f"images/clip/frame_{chr(97 + t)}.png" for t in range(7)],         # other names: frame-index ids
    [],                                                                  # an empty sequence
])
def test_stream_is_byte_identical_to_write_sequence(tmp_path, fmt, names):
    kps, scs, tids, boxes, box_scores = _random_prediction(names)
    labeled = [t % 5 != 2 for t in range(len(names))]
    whole = sequence_from_arrays("000342_mpii_test", names, kps, scs, tids, 0.3, boxes, box_scores,
                                 is_labeled=labeled)
    write_sequence(whole, tmp_path / "whole.json", fmt)
    with open_stream(tmp_path / "stream.json", "000342_mpii_test", fmt) as writer:
        for t, name in enumerate(names):
            one = sequence_from_arrays("000342_mpii_test", [name], [kps[t]], [scs[t]], [tids[t]], 0.3, [boxes[t]],
                                       [box_scores[t]], image_ids=[whole.frames[t].image_id],
                                       is_labeled=[labeled[t]])
            writer.add(one.frames[0])
    assert (tmp_path / "stream.json").read_bytes() == (tmp_path / "whole.json").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stream.json", "whole.json"]  # no temporaries left
    if names:
        back = read_sequence(tmp_path / "stream.json", "pred", check_file_names=False)
        assert len(back.frames) == len(names)


def test_nothing_is_visible_before_close_and_abort_removes_everything(tmp_path):
    names = [f"images/val/000342_mpii_test/{t:06d}.jpg" for t in range(5)]
    kps, scs, tids, boxes, box_scores = _random_prediction(names)
    seq = sequence_from_arrays("000342_mpii_test", names, kps, scs, tids)
    writer = open_stream(tmp_path / "000342_mpii_test.json", "000342_mpii_test")
    for frame in seq.frames[:3]:
        writer.add(frame)
    visible = [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert visible == [] and writer.frames == 3
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_non_finite_value_is_a_format_error_and_the_context_cleans_up(tmp_path):
    seq = sequence_from_arrays("s", ["images/s/000000.jpg"], [np.ones((1, 17, 2))], [np.ones((1, 17))], [[0]],
                               boxes=[np.array([[0, 0, np.inf, 5]])], box_scores=[[1.0]])
    with pytest.raises(PoseTrackFormatError, match="not finite"):
        with open_stream(tmp_path / "s.json", "s") as writer:
            writer.add(seq.frames[0])
    assert list(tmp_path.iterdir()) == []


def test_2017_stream_reads_back_as_2017(tmp_path):
    names = [f"images/val/000342_mpii_test/{t:06d}.jpg" for t in range(4)]
    kps, scs, tids, boxes, box_scores = _random_prediction(names, seed=3)
    seq = sequence_from_arrays("000342_mpii_test", names, kps, scs, tids, 0.0, boxes, box_scores)
    with open_stream(tmp_path / "p.json", "000342_mpii_test", "2017") as writer:
        for frame in seq.frames:
            writer.add(frame)
    data = json.loads((tmp_path / "p.json").read_text())
    assert list(data) == ["annolist"] and [e["imgnum"] for e in data["annolist"]] == [[1], [2], [3], [4]]
    back = read_sequence(tmp_path / "p.json", "pred")
    assert back.source_format == "2017"
    assert [len(f.people) for f in back.frames] == [0, 1, 2, 3]


def test_a_new_writer_removes_the_leftovers_of_a_killed_one(tmp_path):
    (tmp_path / ".s.json.abc123.part").write_text('{"categories": [')  # what a SIGKILL leaves
    (tmp_path / ".other.json.x.part").write_text("")                  # another file's: kept
    with open_stream(tmp_path / "s.json", "s") as writer:
        assert sorted(p.name for p in tmp_path.iterdir() if "abc123" in p.name) == []
        del writer
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.json.x.part", "s.json"]
