"""tracker.eval.cli against the official poseval: every number of every reference case, the CLI and its errors."""
from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from pose.data.posetrack import (FrameAnnotation, PersonAnnotation, PoseTrackSequence, read_sequence,
                                 read_sequence_dir, write_sequence)
from tests.conftest import REPO_ROOT, shared_path
from tracker.eval.ap import greedy_assignment, precision_recall, voc_ap
from tracker.eval.data import JOINT_NAMES, points_in_polygon
from tracker.eval.mot import MOTCounts, sequence_counts
from tracker.eval.cli import evaluate, evaluate_sequences, format_tables, load_sequences, main, prepare_sequences

CASES = ["perfect", "jitter_small", "dropped_persons", "swapped_ids", "realistic", "realistic_2017", "no_predictions"]
TOL = 1e-6


def _case(name: str):
    folder = shared_path("reference", "poseval", name)
    return folder, json.loads((folder / "expected.json").read_text())


def _expected_metrics(exp: dict) -> dict:
    """expected.json -> {our key: (per-joint dict, total)}."""
    ap, mot = exp["ap"], exp["mot"]
    out = {
        "ap": (ap["per_joint"], ap["total_mAP"]),
        "ap_precision": (ap["precision"]["per_joint"], ap["precision"]["total"]),
        "ap_recall": (ap["recall"]["per_joint"], ap["recall"]["total"]),
    }
    for key in ("mota", "motp", "precision", "recall"):
        out[key] = (mot[key]["per_joint"], mot[key]["total"])
    return out


def _assert_metric(ours: dict, per_joint: dict, total: float, label: str) -> None:
    assert set(ours["per_joint"]) == set(JOINT_NAMES) == set(per_joint)
    for name in JOINT_NAMES:
        assert ours["per_joint"][name] == pytest.approx(per_joint[name], abs=TOL), f"{label} {name}"
    assert ours["total"] == pytest.approx(total, abs=TOL), f"{label} total"


@pytest.mark.parametrize("case", CASES)
def test_reference_case_totals(case):
    folder, exp = _case(case)
    result = evaluate(folder / "gt", folder / "pred", per_sequence=True)
    for key, (per_joint, total) in _expected_metrics(exp).items():
        _assert_metric(result[key], per_joint, total, f"{case} {key}")
    # The printed rows are poseval's, character for character.
    rows = [line for line in format_tables(result).splitlines() if line.startswith("&") and "Head" not in line
            and "MOTA" not in line]
    assert rows == exp["printed_rows"]
    # Per-sequence tables (poseval -s).
    pairs = {"ap": ("ap", None), "ap_precision": ("ap", "pre"), "ap_recall": ("ap", "rec"), "mota": ("mot", "mota"),
             "motp": ("mot", "motp"), "precision": ("mot", "pre"), "recall": ("mot", "rec")}
    assert set(result["per_sequence"]) == set(exp["per_sequence"])
    for seq, exp_seq in exp["per_sequence"].items():
        for key, (side, sub) in pairs.items():
            ref = exp_seq[side] if sub is None else exp_seq[side][sub]
            _assert_metric(result["per_sequence"][seq][key], ref["per_joint"], ref["total"], f"{case} {seq} {key}")


@pytest.mark.parametrize("case", ["swapped_ids", "realistic", "dropped_persons", "no_predictions"])
def test_reference_case_mot_counts(case):
    """The event counts and poseval's distance sum (RAW events included) behind MOTA / MOTP."""
    folder, exp = _case(case)
    prepared = prepare_sequences(load_sequences(folder / "gt", folder / "pred"))
    counts = sum((sequence_counts(s.frames, s.dists) for s in prepared), MOTCounts())
    ref = exp["mot_counts"]
    for ours, key in ((counts.misses, "num_misses"), (counts.switches, "num_switches"),
                      (counts.false_positives, "num_false_positives"), (counts.objects, "num_objects"),
                      (counts.detections, "num_detections"), (counts.sum_d_all_events, "sumD_events_incl_RAW")):
        np.testing.assert_allclose(ours, [ref[key][n] for n in JOINT_NAMES], atol=TOL, err_msg=key)
    matched = [ref["sumD_type_MATCH"][n] + ref["sumD_type_SWITCH"][n] for n in JOINT_NAMES]
    np.testing.assert_allclose(counts.sum_d_matched, matched, atol=TOL)
    assert sum(len(s.frames) for s in prepared) == ref["frames_after_cleanup"]
    assert sum(len(s.frames) - 1 for s in prepared) == ref["frames_used_for_tracking"]


def test_ground_truth_as_predictions_gives_ap_100():
    folder = shared_path("data", "posetrack18", "annotations", "val")
    gts = read_sequence_dir(folder, role="gt")
    preds = copy.deepcopy(gts)
    for seq in preds:
        for frame in seq.frames:
            for person in frame.people:
                person.scores = np.ones(17)
    result = evaluate_sequences(list(zip(gts, preds)), mot=False)
    assert result["ap"]["total"] == 100.0
    assert all(v == 100.0 for v in result["ap"]["per_joint"].values())
    assert result["ap_recall"]["total"] == 100.0 and result["ap_precision"]["total"] == 100.0


# ---------------------------------------------------------------------------------------------------------------
# Building blocks, hand-computed
# ---------------------------------------------------------------------------------------------------------------

def test_points_in_polygon_is_strictly_inside():
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)
    pts = np.array([[5, 5], [0, 5], [10, 10], [5, 0], [11, 5], [-1, -1], [9.999, 0.001]])
    assert points_in_polygon(pts, square).tolist() == [True, False, False, False, False, False, True]
    # Concave "U": the notch (5, 8) is outside, the arms inside; the ray through a vertex y=2 counts once.
    u = np.array([[0, 0], [10, 0], [10, 10], [7, 10], [7, 2], [3, 2], [3, 10], [0, 10]], float)
    pts = np.array([[5, 8], [1, 8], [9, 8], [5, 1], [5, 2], [1, 2], [3, 5]])
    assert points_in_polygon(pts, u).tolist() == [False, True, True, True, False, True, False]
    assert points_in_polygon(pts, u[:2]).tolist() == [False] * len(pts)  # degenerate region: contains nothing


def test_greedy_assignment_is_poseval_order_not_hungarian():
    # 2 predictions, 2 GTs, 1 joint each annotated: pred 0 matches both GTs, pred 1 only GT 0.
    match = np.array([[[True], [True]], [[True], [False]]])
    gt_has = np.ones((2, 1), bool)
    # pred 0 keeps its first best GT (0); GT 0 then takes the first best prediction (0); GT 1 gets nothing.
    assert greedy_assignment(match, gt_has).tolist() == [0, -1]


def test_voc_ap_hand_computed():
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    is_tp = np.array([True, False, True, False])
    precision, recall = precision_recall(scores, is_tp, 4)
    np.testing.assert_allclose(precision, [1, 0.5, 2 / 3, 0.5])
    np.testing.assert_allclose(recall, [0.25, 0.25, 0.5, 0.5])
    # Envelope: 1 up to recall 0.25, 2/3 up to 0.5, 0 beyond: 0.25 + 0.25 * 2/3.
    assert voc_ap(recall, precision) == pytest.approx(0.25 + 0.25 * 2 / 3)


def _person(track_id: int, x: float, score: float | None = None) -> PersonAnnotation:
    kp = np.zeros((17, 3))
    kp[:, 0], kp[:, 1], kp[:, 2] = x, 100.0, 1.0
    kp[[3, 4]] = 0  # ears: never annotated
    scores = None if score is None else np.full(17, score)
    return PersonAnnotation(track_id, kp, scores, np.array([x, 80.0, x + 10.0, 90.0]))  # head size 0.6 * 10 * sqrt 2


def _sequence(frames_people: list[list[PersonAnnotation]]) -> PoseTrackSequence:
    frames = [FrameAnnotation(f"images/val/000001_mpii_test/{i:06d}.jpg", 10000010000 + i, True, people)
              for i, people in enumerate(frames_people)]
    return PoseTrackSequence("000001_mpii_test", frames)


def test_textbook_mode_versus_poseval_quirks():
    """3 frames, one GT person; predictions: frame 0 exact, frame 1 none, frame 2 off by 1 px (id kept)."""
    gt = _sequence([[_person(0, 100.0)], [_person(0, 200.0)], [_person(0, 300.0)]])
    pred = _sequence([[_person(5, 100.0, 0.9)], [], [_person(5, 301.0, 0.8)]])
    quirks = evaluate_sequences([(gt, pred)], ap=False)
    textbook = evaluate_sequences([(gt, pred)], ap=False, textbook=True)
    # poseval: frame 2 (last) is dropped; frame 1 counts 1 miss + 1 FP; frame 0 is a match at distance 0.
    # MOTA = 1 - (1 + 1) / 2 = 0; MOTP = 1 - 0 / 1.
    assert quirks["mota"]["total"] == pytest.approx(0.0)
    assert quirks["motp"]["total"] == pytest.approx(100.0)
    assert quirks["precision"]["total"] == pytest.approx(50.0)
    # textbook: 3 objects, 1 real miss (frame 1), 2 matches; MOTP = 1 - (0 + 1 / (6 sqrt 2)) / 2.
    assert textbook["mota"]["total"] == pytest.approx(100 * (1 - 1 / 3))
    assert textbook["motp"]["total"] == pytest.approx(100 * (1 - 1 / (6 * np.sqrt(2)) / 2))
    assert textbook["precision"]["total"] == pytest.approx(100.0)
    assert textbook["recall"]["total"] == pytest.approx(100 * 2 / 3)


# ---------------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------------

def test_cli_json_keys_and_values(tmp_path, capsys):
    folder, exp = _case("realistic")
    out = tmp_path / "res.json"
    assert main(["--gt", str(folder / "gt"), "--pred", str(folder / "pred"), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert exp["printed_rows"][0] in printed and exp["printed_rows"][1] in printed
    data = json.loads(out.read_text())
    assert set(data) == {"ap", "ap_precision", "ap_recall", "mota", "motp", "precision", "recall"}
    for key, (per_joint, total) in _expected_metrics(exp).items():
        assert set(data[key]) == {"per_joint", "total"}
        _assert_metric(data[key], per_joint, total, key)


def test_cli_ap_only_and_mot_only(tmp_path, capsys):
    folder, _ = _case("jitter_small")
    out = tmp_path / "ap.json"
    assert main(["--gt", str(folder / "gt"), "--pred", str(folder / "pred"), "--ap-only", "--json", str(out)]) == 0
    assert set(json.loads(out.read_text())) == {"ap", "ap_precision", "ap_recall"}
    assert main(["--gt", str(folder / "gt"), "--pred", str(folder / "pred"), "--mot-only", "--json", str(out)]) == 0
    assert set(json.loads(out.read_text())) == {"mota", "motp", "precision", "recall"}
    assert "Sequence 000342_mpii_test" not in capsys.readouterr().out
    assert main(["--gt", str(folder / "gt"), "--pred", str(folder / "pred"), "--per-sequence", "--ap-only"]) == 0
    assert "Sequence 000342_mpii_test" in capsys.readouterr().out


def _copy_case(tmp_path, case="realistic"):
    folder, _ = _case(case)
    shutil.copytree(folder / "gt", tmp_path / "gt")
    shutil.copytree(folder / "pred", tmp_path / "pred")
    return tmp_path / "gt", tmp_path / "pred"


def _run_cli_error(gt, pred) -> str:
    """Run the CLI as a user would; it must exit 2 with one 'error:' line and no traceback."""
    proc = subprocess.run([sys.executable, "-m", "tracker.evaluate", "--gt", str(gt), "--pred", str(pred)],
                          capture_output=True, text=True, cwd=REPO_ROOT)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


def test_cli_error_missing_prediction_file(tmp_path):
    gt, pred = _copy_case(tmp_path)
    (pred / "003742_mpii_test.json").unlink()
    msg = _run_cli_error(gt, pred)
    assert "003742_mpii_test.json" in msg


def test_errors_name_file_and_frame(tmp_path):
    gt, pred = _copy_case(tmp_path)
    name = "001001_mpii_test.json"
    seq = read_sequence(pred / name, role="pred")

    def check(mutate, *needles):
        broken = copy.deepcopy(seq)
        mutate(broken)
        write_sequence(broken, pred / name)
        with pytest.raises(ValueError) as info:
            evaluate(gt, pred)
        for needle in (name.split(".")[0],) + needles:
            assert needle in str(info.value)

    check(lambda s: s.frames.pop(), "images")  # frame count differs
    check(lambda s: s.frames.__setitem__(slice(3, 5), s.frames[4:2:-1]), "000003.jpg")  # frame order differs
    # one frame's people, with the second person's id made equal to the first's
    frame = next(i for i, f in enumerate(seq.frames) if len(f.people) >= 2)
    check(lambda s: setattr(s.frames[frame].people[1], "track_id", s.frames[frame].people[0].track_id),
          f"{frame:06d}.jpg")
    (pred / name).write_text('{"images": [')
    msg = _run_cli_error(gt, pred)
    assert name in msg and "JSON" in msg
    big = copy.deepcopy(seq)
    big.frames[frame].people[0].track_id = 10000
    data = json.loads(json.dumps(_to_dict(big)))
    (pred / name).write_text(json.dumps(data))
    msg = _run_cli_error(gt, pred)
    assert name in msg and "10000" in msg


def _to_dict(seq):
    from pose.data.posetrack import to_posetrack18_dict
    return to_posetrack18_dict(seq)


def test_missing_scores_rank_last_like_poseval():
    """GT: 2 people. Predictions: A exact (score 0.5), B exact without scores (-9999), C a far-away FP (0.1).
    Per joint the ranking is A (TP), C (FP), B (TP): precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 -> AP 5/6."""
    gt = _sequence([[_person(0, 100.0), _person(1, 300.0)]] * 2)
    pred = _sequence([[_person(7, 100.0, 0.5), _person(8, 300.0), _person(9, 900.0, 0.1)]] * 2)
    result = evaluate_sequences([(gt, pred)], mot=False)
    assert result["ap"]["total"] == pytest.approx(100 * 5 / 6)
    pred_scored = _sequence([[_person(7, 100.0, 0.5), _person(8, 300.0, 0.9), _person(9, 900.0, 0.1)]] * 2)
    assert evaluate_sequences([(gt, pred_scored)], mot=False)["ap"]["total"] == pytest.approx(100.0)


def test_points_in_polygon_equals_shapely_contains():
    geometry = pytest.importorskip("shapely.geometry")
    rng = np.random.default_rng(0)
    for _ in range(40):
        m = int(rng.integers(3, 9))
        angles, radii = np.sort(rng.uniform(0, 2 * np.pi, m)), rng.uniform(5, 20, m)
        poly = np.round(np.c_[50 + radii * np.cos(angles), 50 + radii * np.sin(angles)])  # simple (star-shaped)
        shape = geometry.Polygon(poly)
        if not shape.is_valid:
            continue
        # grid points, the vertices and the edge midpoints (on the boundary: not contained)
        pts = np.vstack([np.round(rng.uniform(25, 75, (100, 2))), poly, (poly + np.roll(poly, -1, 0)) / 2])
        expected = [shape.contains(geometry.Point(x, y)) for x, y in pts]
        assert points_in_polygon(pts, poly).tolist() == expected


def test_cli_warns_about_unscored_predictions(tmp_path):
    gt, pred = _copy_case(tmp_path, "perfect")
    name = "000342_mpii_test.json"
    seq = read_sequence(pred / name, role="pred")
    for frame in seq.frames:
        for person in frame.people:
            person.scores = None
    write_sequence(seq, pred / name)
    proc = subprocess.run([sys.executable, "-m", "tracker.evaluate", "--gt", str(gt), "--pred", str(pred)],
                          capture_output=True, text=True, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("warning: ") and "000342_mpii_test" in proc.stderr
    assert "& MOTA" in proc.stdout


def test_head_sizes_equal_poseval_per_person_norm_to_the_last_bit():
    from tracker.eval.data import HEAD_SIZE_FACTOR, head_sizes

    rng = np.random.default_rng(0)
    corners = rng.uniform(0, 1000, (5000, 2))
    boxes = np.concatenate([corners, corners + rng.uniform(0, 80, (5000, 2)) * rng.uniform(0, 3, (5000, 1))], 1)
    poseval = [HEAD_SIZE_FACTOR * np.linalg.norm(np.subtract([x2, y2], [x1, y1])) for x1, y1, x2, y2 in boxes]
    assert np.array_equal(head_sizes(boxes), poseval)
