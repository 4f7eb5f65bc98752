"""tracker.eval.cli on inputs beyond the reference cases: poseval's behaviour on edge cases, derived by hand.

Every expected number below follows from the rules of the official poseval (leonid-pishchulin/poseval @
4258a15, package ``poseval/``), applied by hand to a handmade ground truth / prediction pair; the comment above
each assertion gives the derivation and names the official function. Recurring rules:

- ``eval_helpers.assignGTmulti``: a joint matches when ||pred - gt|| / headSize <= 0.5, headSize = 0.6 x head-box
  diagonal; a prediction is assigned to the GT with the best PCK; every predicted joint becomes one detection
  (score, true positive iff matched to its assigned GT); predictions of a frame whose GT list is empty are all
  false positives, and MOT then sees one dummy object and one dummy hypothesis that cannot pair (1 miss + 1 FP
  per joint).
- ``eval_helpers.computeRPC`` ranks detections by ``argsort()[::-1]``; ``VOCap`` is the area under the monotone
  precision envelope. Two detections of one joint, FP ranked first and TP second, with 1 GT joint:
  precision (0, 1/2), recall (0, 1) -> AP = (1 - 0) * 1/2 = 50. TP first: AP = 100.
- ``evaluateTracking.computeMetrics`` leaves out the last evaluated frame of every sequence.

The helpers write tiny PoseTrack 2018 / 2017 files: one pose template with 15 joints 20 px apart, a 20 x 20
head box (headSize = 0.6 * sqrt(800) = 16.97 px, match radius 8.49 px), people 500 px apart.
"""
from __future__ import annotations

import glob
import json
import math

import numpy as np
import pytest

from pose.data.posetrack import PoseTrackFormatError, read_sequence, write_sequence
from pose.keypoints import POSETRACK17_JOINTS, POSETRACK18_JOINTS
from tracker.eval.data import JOINT_NAMES, EvaluationError
from tracker.eval.cli import evaluate, main

P15 = list(POSETRACK17_JOINTS)  # poseval's 15 joint ids, in order
P18 = list(POSETRACK18_JOINTS)
SEQ_A, SEQ_B = "000342_mpii_test", "001001_mpii_test"
HEAD = 0.6 * math.sqrt(20 ** 2 + 20 ** 2)  # headSize of every helper head box


def pose(x0: float, y0: float = 100.0) -> dict:
    """{joint name: (x, y, v)} for the 15 evaluated joints, 20 px apart, well inside a 100 x 60 box."""
    return {name: (x0 + 20.0 * (j % 5), y0 + 20.0 * (j // 5), 1) for j, name in enumerate(P15)}


def person(tid: int, x0: float, scores=None, head=True, **extra) -> dict:
    """A helper person. scores: a number (every joint), a {name: score} dict, [] or None (no 'scores')."""
    p = {"tid": tid, "xy": pose(x0), "head": [x0, 60.0, 20.0, 20.0] if head else None, "scores": scores}
    p.update(extra)
    return p


def file18(seq: str, frames: list[list[dict]], names: list[str] = P18) -> dict:
    """A PoseTrack 2018 file; a person's ``xy`` joints missing from it are written 0, 0, 0."""
    images, annotations = [], []
    for f, people in enumerate(frames):
        image_id = 10000000000 + int(seq[:6]) * 10000 + f
        images.append({"file_name": f"images/val/{seq}/{f:06d}.jpg", "id": image_id, "frame_id": image_id,
                       "is_labeled": bool(people)})
        for n, p in enumerate(people):
            kp = [c for name in names for c in p["xy"].get(name, (0, 0, 0))]
            ann = {"image_id": image_id, "id": image_id * 100 + n, "track_id": p["tid"], "category_id": 1,
                   "keypoints": kp}
            if isinstance(p["scores"], (int, float)):
                ann["scores"] = [float(p["scores"])] * len(names)
            elif isinstance(p["scores"], dict):
                ann["scores"] = [p["scores"].get(name, 0.0) for name in names]
            elif p["scores"] is not None:
                ann["scores"] = p["scores"]
            if p["head"] is not None:
                ann["bbox_head"] = p["head"]
            if "score" in p:
                ann["score"] = p["score"]
            annotations.append(ann)
        if people and "region" in people[0]:
            xs, ys = zip(*people[0]["region"])
            images[-1]["ignore_regions_x"], images[-1]["ignore_regions_y"] = [list(xs)], [list(ys)]
    category = {"supercategory": "person", "id": 1, "name": "person", "keypoints": names}
    return {"images": images, "annotations": annotations, "categories": [category]}


def file17(seq: str, frames: list[list[dict]]) -> dict:
    """A PoseTrack 2017 ``annolist`` file. A person's ``style`` picks its ``annopoints``: "points" (default),
    "no_key" (no 'annopoints'), "empty_list" ([]), "empty_dict" ([{}]), "empty_points" ([{"point": []}])."""
    annolist = []
    for f, people in enumerate(frames):
        rects = []
        for p in people:
            points = []
            for name, (x, y, v) in p["xy"].items():
                point = {"id": [P15.index(name)], "x": [x], "y": [y], "is_visible": [v]}
                score = p["scores"].get(name) if isinstance(p["scores"], dict) else p["scores"]
                if isinstance(score, (int, float)):
                    point["score"] = [float(score)]
                points.append(point)
            rect = {"track_id": [p["tid"]]}
            style = p.get("style", "points")
            rect.update({"points": {"annopoints": [{"point": points}]}, "no_key": {},
                         "empty_list": {"annopoints": []}, "empty_dict": {"annopoints": [{}]},
                         "empty_points": {"annopoints": [{"point": []}]}}[style])
            if p["head"] is not None:
                x, y, w, h = p["head"]
                rect.update({"x1": [x], "y1": [y], "x2": [x + w], "y2": [y + h]})
            rects.append(rect)
        annolist.append({"image": [{"name": f"images/val/{seq}/{f:06d}.jpg"}], "imgnum": [f + 1],
                         "annorect": rects})
    return {"annolist": annolist}


def run(tmp_path, gt: dict, pred: dict, text: dict | None = None, **kwargs) -> dict:
    """Write {sequence: json object} folders and evaluate them. text: {sequence: raw prediction JSON text}."""
    for side, files in (("gt", gt), ("pred", pred)):
        (tmp_path / side).mkdir(exist_ok=True)
        for seq, obj in files.items():
            (tmp_path / side / f"{seq}.json").write_text(json.dumps(obj))
    for seq, raw in (text or {}).items():
        (tmp_path / "pred" / f"{seq}.json").write_text(raw)
    return evaluate(tmp_path / "gt", tmp_path / "pred", **kwargs)


def per_joint(result: dict, key: str) -> np.ndarray:
    return np.array([result[key]["per_joint"][name] for name in JOINT_NAMES])


def assert_all(result: dict, key: str, value: float, total: float | None = None) -> None:
    np.testing.assert_allclose(per_joint(result, key), value, atol=1e-9, err_msg=key)
    assert result[key]["total"] == pytest.approx(value if total is None else total, abs=1e-9), key


# ------------------------------------------------------------------------------------------------------------
# 2017 people without a point list (eval_helpers.cleanupData / rectHasPoints)
# ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("style, kept", [("no_key", False), ("empty_list", False), ("empty_dict", False),
                                         ("empty_points", True)])
def test_2017_person_without_point_list_leaves_an_empty_frame(tmp_path, style, kept):
    # GT (2017), 3 frames: person 0 in frames 0 and 2; frame 1 holds only person 1, whose 'annopoints' is `style`.
    # Predictions: person 0 exact in frames 0 and 2 (scores 0.9, 0.8), and in frame 1 a person at its place
    # (score 0.5) that matches nothing in frame 1's GT.
    gt = [[person(0, 0)], [person(1, 0, style=style)], [person(0, 0)]]
    pred = [[person(0, 0, 0.9)], [person(0, 0, 0.5)], [person(0, 0, 0.8)]]
    result = run(tmp_path, {SEQ_A: file17(SEQ_A, gt)}, {SEQ_A: file18(SEQ_A, pred)})
    # cleanupData first drops GT frames with an empty 'annorect' (frame 1 is not: it lists person 1), THEN the
    # people without annopoints[0].point (rectHasPoints). So frame 1 is evaluated either way, and its prediction
    # is a false positive either way (it cannot match a person without joints: PCK 0 -> unassigned).
    # AP per joint: TP 0.9, TP 0.8, FP 0.5 with 2 GT joints -> precision (1, 1, 2/3), recall (1/2, 1, 1):
    # AP 100, precision 66.67, recall 100.
    assert_all(result, "ap", 100.0)
    assert_all(result, "ap_precision", 200 / 3)
    assert_all(result, "ap_recall", 100.0)
    # MOT uses frames 0 and 1 (frame 2 is the last). Frame 0: 1 object, matched.
    if kept:
        # [{"point": []}] keeps person 1 (no joints): frame 1 is not "empty", per joint 0 objects, 1 hypothesis
        # -> 1 FP. Objects 1, misses 0, FP 1: MOTA = 100 * (1 - 1/1) = 0, recall 1/1, precision 1/2.
        assert_all(result, "mota", 0.0)
        assert_all(result, "recall", 100.0)
    else:
        # Person 1 is dropped and frame 1 has an empty GT list: one dummy miss and one dummy FP per joint.
        # Objects 2, misses 1, FP 1: MOTA = 100 * (1 - 2/2) = 0, recall 1/2, precision 1/2.
        assert_all(result, "mota", 0.0)
        assert_all(result, "recall", 50.0)
    assert_all(result, "precision", 50.0)
    # MOTP: the only distances are frame 0's RAW and MATCH events, both 0 -> 100 * (1 - 0 / 1) = 100.
    assert_all(result, "motp", 100.0)


# ------------------------------------------------------------------------------------------------------------
# Scores (assignGTmulti: a point without "score" gets MIN_SCORE = -9999; convert.py: empty 'scores' = none)
# ------------------------------------------------------------------------------------------------------------

def test_2017_points_without_score_among_scored_ones_rank_at_minus_9999(tmp_path):
    # One frame, GT person 0. Prediction (2017): person 0 exact, with a score (0.9) on the 7 first poseval ids and
    # no score on the 8 others; person 1, 500 px away, a false positive with score -1 on every joint.
    scored = P15[:7]
    pred = [[person(0, 0, {name: 0.9 for name in scored}), person(1, 500, -1.0)]]
    result = run(tmp_path, {SEQ_A: file18(SEQ_A, [[person(0, 0)]])}, {SEQ_A: file17(SEQ_A, pred)}, mot=False)
    # Scored joints: TP 0.9 ranks before FP -1 -> AP 100. Unscored joints: the TP gets -9999 (not 0), so the FP
    # (-1) ranks first: precision (0, 1/2), recall (0, 1) -> AP 50. Total = (7 * 100 + 8 * 50) / 15.
    expected = np.array([100.0 if name in scored else 50.0 for name in P15])
    np.testing.assert_allclose(per_joint(result, "ap"), expected, atol=1e-9)
    assert result["ap"]["total"] == pytest.approx((7 * 100 + 8 * 50) / 15, abs=1e-9)


@pytest.mark.parametrize("scores", [[], None])
def test_empty_or_missing_scores_list_ignores_person_score(tmp_path, scores):
    # One frame, GT person 0. Prediction (2018): person 0 exact with 'scores' `scores` and a person 'score' 0.99
    # (which poseval never reads); person 1 far away, a false positive with score -1 on every joint.
    pred = [[person(0, 0, scores, score=0.99), person(1, 500, -1.0)]]
    result = run(tmp_path, {SEQ_A: file18(SEQ_A, [[person(0, 0)]])}, {SEQ_A: file18(SEQ_A, pred)}, mot=False)
    # convert.Person.from_new: an empty (or absent) 'scores' list sets no landmark score -> -9999 for every
    # joint of person 0; the FP at -1 ranks first: AP 50 on every joint (it would be 100 with the person score).
    assert_all(result, "ap", 50.0)
    assert_all(result, "ap_recall", 100.0)
    assert_all(result, "ap_precision", 50.0)


# ------------------------------------------------------------------------------------------------------------
# Which joints exist (convert.Person.to_old drops x = y = 0 with is_visible 0; 2017 files are not converted)
# ------------------------------------------------------------------------------------------------------------

def test_2017_point_at_origin_with_is_visible_0_counts(tmp_path):
    # GT (2017), 2 frames, person 0 whose nose point is listed at (0, 0) with is_visible [0]. poseval reads the
    # 2017 file as it is (no conversion), so the nose IS annotated there. Prediction (2018): person 0 exact,
    # its nose at (0, 0) with v = 1 (kept by the conversion, which drops only x = y = v = 0), scores 0.9.
    gt_person = person(0, 0)
    gt_person["xy"]["nose"] = (0.0, 0.0, 0)
    pred_person = person(0, 0, 0.9)
    pred_person["xy"]["nose"] = (0.0, 0.0, 1)
    result = run(tmp_path, {SEQ_A: file17(SEQ_A, [[gt_person], [gt_person]])},
                 {SEQ_A: file18(SEQ_A, [[pred_person], [pred_person]])})
    # Every joint, nose included, is a true positive in both frames: AP 100. MOT (frame 0): 1 object, 1 match
    # per joint: MOTA 100, recall 100. (Were the GT nose absent, its AP and MOTA would be NaN: no GT nose.)
    assert_all(result, "ap", 100.0)
    assert_all(result, "mota", 100.0)
    assert_all(result, "recall", 100.0)


def test_2018_fifteen_keypoint_categories_map_by_name(tmp_path):
    # GT with the 15 names in poseval's order, prediction with them reversed; the prediction lacks left_ankle
    # (0, 0, 0 in the file). 2 frames, exact joints, scores 0.9.
    pred_person = person(0, 0, 0.9)
    del pred_person["xy"]["left_ankle"]
    result = run(tmp_path, {SEQ_A: file18(SEQ_A, [[person(0, 0)]] * 2, names=P15)},
                 {SEQ_A: file18(SEQ_A, [[pred_person]] * 2, names=P15[::-1])})
    # convert.Video.from_new maps keypoints by name. 14 joints: AP 100. left_ankle: no prediction -> AP 0
    # (computeMetrics leaves a joint without detections at 0). Total = 14 * 100 / 15.
    expected = np.array([0.0 if name == "left_ankle" else 100.0 for name in P15])
    np.testing.assert_allclose(per_joint(result, "ap"), expected, atol=1e-9)
    assert result["ap"]["total"] == pytest.approx(1400 / 15, abs=1e-9)
    # MOT, frame 0: left_ankle 1 object, no hypothesis -> 1 miss: MOTA 0; the others MOTA 100.
    np.testing.assert_allclose(per_joint(result, "mota"), expected, atol=1e-9)


# ------------------------------------------------------------------------------------------------------------
# Frames (cleanupData: GT frames without people go, with the prediction frame at their index)
# ------------------------------------------------------------------------------------------------------------

def test_unannotated_images_and_predictions_in_unlabeled_frames_are_not_counted(tmp_path):
    # GT: 4 images, person 0 in frames 0, 2, 3; image 1 has no annotation at all. Predictions: person 0 exact
    # (0.5) in frames 0, 2, 3; in frame 1 three confident people (0.99) that match nothing.
    gt = [[person(0, 0)], [], [person(0, 0)], [person(0, 0)]]
    pred = [[person(0, 0, 0.5)], [person(t, 500 * t, 0.99) for t in (1, 2, 3)], [person(0, 0, 0.5)],
            [person(0, 0, 0.5)]]
    result = run(tmp_path, {SEQ_A: file18(SEQ_A, gt)}, {SEQ_A: file18(SEQ_A, pred)})
    # Frame 1 is removed with its predictions: 3 TPs per joint, no FP -> AP, precision, recall 100.
    # MOT on frames 0 and 2 (3 is the last): 2 matches per joint -> MOTA, precision, recall 100.
    for key in ("ap", "ap_precision", "ap_recall", "mota", "precision", "recall", "motp"):
        assert_all(result, key, 100.0)


def test_labeled_frame_with_every_gt_joint_ignored_becomes_an_empty_frame(tmp_path):
    # 3 frames, GT person 0 each time; in frame 1 an ignore region (square 200 px around person 0) covers all of
    # its joints. Predictions: person 0 exact (0.9) in every frame; in frame 1 also person 1 far away (0.3).
    region = [(-50.0, 0.0), (150.0, 0.0), (150.0, 250.0), (-50.0, 250.0)]
    gt = [[person(0, 0)], [person(0, 0, region=region)], [person(0, 0)]]
    pred = [[person(0, 0, 0.9)], [person(0, 0, 0.9), person(1, 500, 0.3)], [person(0, 0, 0.9)]]
    result = run(tmp_path, {SEQ_A: file18(SEQ_A, gt)}, {SEQ_A: file18(SEQ_A, pred)})
    # removeIgnoredPoints (after cleanupData): frame 1 loses GT person 0 and predicted person 0 (no joint left),
    # keeps predicted person 1: an evaluated frame with an empty GT list. AP per joint: TP 0.9 (frame 0),
    # TP 0.9 (frame 2), FP 0.3 (frame 1), 2 GT joints -> AP 100, precision 2/3, recall 100.
    assert_all(result, "ap", 100.0)
    assert_all(result, "ap_precision", 200 / 3)
    # MOT on frames 0 and 1: frame 0 one match; frame 1 the dummy miss + FP -> objects 2, misses 1, FP 1:
    # MOTA 0, precision 1/2, recall 1/2.
    assert_all(result, "mota", 0.0)
    assert_all(result, "precision", 50.0)
    assert_all(result, "recall", 50.0)


def test_gt_without_head_box_only_fails_where_poseval_needs_it(tmp_path):
    # 3 frames, GT person 0; in frame 1 it has no head box, and frame 1 has no prediction (poseval computes head
    # sizes only in frames with predictions and GT). Predictions: person 0 exact (0.9) in frames 0 and 2.
    gt = [[person(0, 0)], [person(0, 0, head=False)], [person(0, 0)]]
    pred = [[person(0, 0, 0.9)], [], [person(0, 0, 0.9)]]
    result = run(tmp_path, {SEQ_A: file18(SEQ_A, gt)}, {SEQ_A: file18(SEQ_A, pred)})
    # AP per joint: 2 TPs, 3 GT joints -> precision (1, 1), recall (1/3, 2/3): AP 66.67, recall 66.67.
    assert_all(result, "ap", 200 / 3)
    assert_all(result, "ap_recall", 200 / 3)
    # MOT on frames 0 and 1: a match, then an empty prediction list (dummy miss + FP): MOTA 0, recall 50.
    assert_all(result, "mota", 0.0)
    assert_all(result, "recall", 50.0)
    # With a prediction in frame 1 poseval crashes (KeyError 'x1' in assignGTmulti): a clear error here.
    pred[1] = [person(0, 0, 0.9)]
    with pytest.raises(EvaluationError, match="head box"):
        run(tmp_path, {SEQ_A: file18(SEQ_A, gt)}, {SEQ_A: file18(SEQ_A, pred)})


# ------------------------------------------------------------------------------------------------------------
# Degenerate numbers: zero head boxes, NaN, no objects
# ------------------------------------------------------------------------------------------------------------

def test_zero_size_head_box_matches_nothing(tmp_path):
    # 2 frames, GT person 0 with a 0 x 0 head box (headSize 0) and person 1 with a normal one. Predictions:
    # both exact, person 0 scored 0.9, person 1 scored 0.8.
    gt = [[person(0, 0, head=False), person(1, 500)]] * 2
    gt[0][0]["head"] = [0.0, 60.0, 0.0, 0.0]  # the same dict in both frames
    pred = [[person(0, 0, 0.9), person(1, 500, 0.8)]] * 2
    result = run(tmp_path, {SEQ_A: file18(SEQ_A, gt)}, {SEQ_A: file18(SEQ_A, pred)})
    # getHeadSize = 0 -> distance 0 / 0 = NaN for person 0 (far joints: inf); neither is <= 0.5, so prediction 0
    # matches nothing (PCK 0, unassigned: all its joints FP), prediction 1 is a TP.
    # Per joint and frame: FP 0.9, TP 0.8; over 2 frames the ranking is FP, FP, TP, TP (ties broken by argsort)
    # with 4 GT joints -> precision (0, 0, 1/3, 1/2), recall (0, 0, 1/4, 1/2):
    # AP = 1/4 * 1/2 + 1/4 * 1/2 = 25 (the envelope is 1/2 from recall 0 to 1/2), precision 50, recall 50.
    assert_all(result, "ap", 25.0)
    assert_all(result, "ap_precision", 50.0)
    assert_all(result, "ap_recall", 50.0)
    # MOT, frame 0: objects 0 and 1, hypotheses 0 and 1, only (1, 1) pairable -> 1 match, 1 miss, 1 FP:
    # MOTA = 100 * (1 - 2/2) = 0, precision 50, recall 50.
    assert_all(result, "mota", 0.0)
    assert_all(result, "recall", 50.0)


NAN_PRED = """{"images": [IMAGES], "categories": [CATEGORY], "annotations": [
 {"image_id": ID0, "track_id": 0, "keypoints": KP0, "scores": S0},
 {"image_id": ID0, "track_id": 1, "keypoints": KP1, "scores": SNAN},
 {"image_id": ID1, "track_id": 0, "keypoints": KP0, "scores": S0},
 {"image_id": ID1, "track_id": 1, "keypoints": KP1, "scores": SNAN}]}"""


def test_nan_scores_rank_first_and_nan_joints_never_match(tmp_path):
    # 2 frames, GT person 0. Prediction file written by Python's json with NaN (which json.load, and so poseval,
    # reads): person 0 exact except its nose x = NaN, scores 0.1; person 1 far away, every score NaN.
    gt = {SEQ_A: file18(SEQ_A, [[person(0, 0)]] * 2)}
    template = file18(SEQ_A, [[person(0, 0, 0.1), person(1, 500, 0.1)]] * 2)
    kp0 = list(template["annotations"][0]["keypoints"])
    kp0[0] = float("nan")  # the nose is the first keypoint of the 2018 layout
    text = (NAN_PRED.replace("IMAGES", ", ".join(json.dumps(i) for i in template["images"]))
            .replace("CATEGORY", json.dumps(template["categories"][0]))
            .replace("ID0", str(template["images"][0]["id"])).replace("ID1", str(template["images"][1]["id"]))
            .replace("KP0", json.dumps(kp0)).replace("KP1", json.dumps(template["annotations"][1]["keypoints"]))
            .replace("SNAN", json.dumps([float("nan")] * 17)).replace("S0", json.dumps([0.1] * 17)))
    assert "NaN" in text
    result = run(tmp_path, gt, {}, text={SEQ_A: text})
    # computeRPC: argsort puts NaN last, [::-1] first. Every joint but the nose, per frame: FP (NaN), TP (0.1);
    # over 2 frames FP, FP, TP, TP with 2 GT joints -> precision (0, 0, 1/3, 1/2), recall (0, 0, 1/2, 1):
    # AP = 1/2 * 1/2 + 1/2 * 1/2 = 50 (the envelope is 1/2 from recall 0 to 1).
    # Nose: x = NaN is not "0, 0, 0", so it is a prediction, at distance NaN: FP. No TP -> AP 0.
    expected_ap = np.array([0.0 if name == "nose" else 50.0 for name in P15])
    np.testing.assert_allclose(per_joint(result, "ap"), expected_ap, atol=1e-9)
    # MOT, frame 0: nose 1 object, 2 hypotheses, nothing pairable -> 1 miss + 2 FP: MOTA = 100 * (1 - 3) = -200;
    # other joints 1 match + 1 FP: MOTA 0.
    expected_mota = np.array([-200.0 if name == "nose" else 0.0 for name in P15])
    np.testing.assert_allclose(per_joint(result, "mota"), expected_mota, atol=1e-9)
    # The reader still refuses NaN outside the evaluator.
    with pytest.raises(PoseTrackFormatError, match="finite"):
        read_sequence(tmp_path / "pred" / f"{SEQ_A}.json", role="any")


def test_joint_without_gt_objects_has_nan_mota_not_minus_inf(tmp_path):
    # 2 frames, GT person 0 without left_ankle; prediction exact with a left_ankle too (scores 0.9).
    gt_person = person(0, 0)
    del gt_person["xy"]["left_ankle"]
    result = run(tmp_path, {SEQ_A: file18(SEQ_A, [[gt_person]] * 2)},
                 {SEQ_A: file18(SEQ_A, [[person(0, 0, 0.9)]] * 2)})
    # left_ankle: 0 GT joints. AP: recall = npos / 0 = NaN -> AP NaN, left out of the total.
    # MOT: 0 objects -> poseval sets numObj = NaN, so MOTA and recall are NaN (not -inf), left out of the totals.
    ankle = JOINT_NAMES.index("left_ankle")
    for key in ("ap", "mota", "recall"):
        values = per_joint(result, key)
        assert np.isnan(values[ankle]), key
        np.testing.assert_allclose(np.delete(values, ankle), 100.0, atol=1e-9)
        assert result[key]["total"] == pytest.approx(100.0, abs=1e-9)
    # MOT precision = det / (det + FP): frame 0 has 1 left_ankle hypothesis and no object -> 0 / (0 + 1) = 0.
    assert per_joint(result, "precision")[ankle] == 0.0


def test_no_evaluated_frame_at_all(tmp_path):
    # GT without any person: cleanupData leaves no frame. AP: every joint keeps 0; MOT: no sequence, so every
    # count is 0 -> MOTA, precision, recall NaN and MOTP 0 (poseval's rules for numObj = 0, numDet = 0).
    result = run(tmp_path, {SEQ_A: file18(SEQ_A, [[], []])}, {SEQ_A: file18(SEQ_A, [[person(0, 0, 0.9)], []])})
    assert_all(result, "ap", 0.0)
    assert np.all(np.isnan(per_joint(result, "mota"))) and math.isnan(result["mota"]["total"])
    assert_all(result, "motp", 0.0)


# ------------------------------------------------------------------------------------------------------------
# Sequence order, track ids, crashes
# ------------------------------------------------------------------------------------------------------------

def test_sequences_come_in_glob_order_which_breaks_score_ties(tmp_path, monkeypatch):
    # Sequence A: GT person 0, prediction exact (TP). Sequence B: GT person 0, prediction 500 px away (FP).
    # Every score is 0.5: per joint one TP and one FP with the same score, 2 GT joints.
    gt = {SEQ_A: file18(SEQ_A, [[person(0, 0)]]), SEQ_B: file18(SEQ_B, [[person(0, 0)]])}
    pred = {SEQ_A: file18(SEQ_A, [[person(0, 0, 0.5)]]), SEQ_B: file18(SEQ_B, [[person(0, 500, 0.5)]])}
    run(tmp_path, gt, pred, mot=False)
    files = sorted(glob.glob(str(tmp_path / "gt" / "*.json")))
    real_glob = glob.glob
    for order in (files, files[::-1]):
        monkeypatch.setattr(glob, "glob", lambda pattern, *a, **k: list(order) if "*.json" in pattern
                            else real_glob(pattern, *a, **k))
        result = evaluate(tmp_path / "gt", tmp_path / "pred", mot=False)
        # poseval concatenates detections in glob order and ranks with argsort()[::-1]; with a tie the detection
        # argsort puts last comes first. TP first: precision (1, 1/2), recall (1/2, 1/2) -> AP 50;
        # FP first: precision (0, 1/2), recall (0, 1/2) -> AP 25.
        labels = [order is files, order is not files]  # is each detection, in concatenation order, the TP?
        tp_first = labels[int(np.array([0.5, 0.5]).argsort()[::-1][0])]
        assert_all(result, "ap", 50.0 if tp_first else 25.0)


def test_negative_track_ids_are_accepted_like_poseval(tmp_path):
    # poseval only asserts track_id < 10000. GT ids -1, -2 and predictions with the same ids, exact, 2 frames.
    gt = [[person(-1, 0), person(-2, 500)]] * 2
    pred = [[person(-1, 0, 0.9), person(-2, 500, 0.8)]] * 2
    result = run(tmp_path, {SEQ_A: file18(SEQ_A, gt)}, {SEQ_A: file18(SEQ_A, pred)})
    for key in ("ap", "mota", "precision", "recall"):
        assert_all(result, key, 100.0)


def test_single_evaluated_frame_sequence_gives_ap_and_leaves_mot_out(tmp_path, capsys):
    # One sequence with a single frame with people. poseval's evaluateTracking drops the last frame and then
    # reads imgidxs[0, 0] of an empty array (IndexError); its AP works (exact prediction: AP 100).
    gt, pred = {SEQ_A: file18(SEQ_A, [[person(0, 0)], []])}, {SEQ_A: file18(SEQ_A, [[person(0, 0, 0.9)], []])}
    warnings = []
    result = run(tmp_path, gt, pred, warn=warnings.append)
    assert_all(result, "ap", 100.0)
    assert all(result[key] is None for key in ("mota", "motp", "precision", "recall"))
    assert len(warnings) == 1 and SEQ_A in warnings[0] and "single labeled frame" in warnings[0]
    with pytest.raises(EvaluationError, match="single labeled frame"):  # tracking metrics only: an error
        evaluate(tmp_path / "gt", tmp_path / "pred", ap=False)
    # Textbook CLEAR-MOT has no such limit: the one frame is a match.
    assert_all(evaluate(tmp_path / "gt", tmp_path / "pred", textbook=True), "mota", 100.0)
    out_json = tmp_path / "result.json"
    assert main(["--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred"), "--json", str(out_json)]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("warning: ") == 1 and SEQ_A in captured.err
    assert "Average Precision" in captured.out and "MOTA" not in captured.out
    written = json.loads(out_json.read_text())
    assert written["ap"]["total"] == 100.0 and written["mota"] is None
    assert main(["--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred"), "--mot-only"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "single labeled frame" in err and "Traceback" not in err


def test_real_val_annotations_give_ap_and_the_mota_warning(shared, capsys):
    val = shared("data", "posetrack18", "annotations", "val")
    assert main(["--gt", str(val), "--pred", str(val)]) == 0
    captured = capsys.readouterr()
    assert "Average Precision" in captured.out and "MOTA" not in captured.out
    warning = [line for line in captured.err.splitlines() if "single labeled frame" in line]
    assert len(warning) == 1 and all(f.stem in warning[0] for f in val.glob("*.json"))


def test_prediction_without_track_id_is_a_clear_error(tmp_path, capsys):
    # poseval: a 2018 annotation without 'track_id' raises KeyError in convert.Person.from_new; a 2017 one
    # shifts the ids of the frame (assignGTmulti builds them only from people that have one) and crashes with
    # an IndexError. Here: one sentence naming the file, frame and field.
    gt = {SEQ_A: file18(SEQ_A, [[person(0, 0)]] * 2)}
    pred = file18(SEQ_A, [[person(0, 0, 0.9)]] * 2)
    del pred["annotations"][1]["track_id"]
    with pytest.raises(PoseTrackFormatError, match="track_id"):
        run(tmp_path, gt, {SEQ_A: pred})
    assert main(["--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred")]) == 2
    assert "'track_id' is missing" in capsys.readouterr().err


def test_ignore_region_with_two_vertices_is_a_clear_error(tmp_path):
    # shapely cannot build a polygon from 1 or 2 points, so poseval's removeIgnoredPoints raises ValueError.
    gt = [[person(0, 0, region=[(0.0, 0.0), (10.0, 10.0)])], [person(0, 0)]]
    # the reader refuses it already (so `pose.data.posetrack check` does too); the evaluator's own check stays
    with pytest.raises((EvaluationError, PoseTrackFormatError), match="2 vertices"):
        run(tmp_path, {SEQ_A: file18(SEQ_A, gt)}, {SEQ_A: file18(SEQ_A, [[person(0, 0, 0.9)]] * 2)})


# ------------------------------------------------------------------------------------------------------------
# The reader keeps what the evaluator needs from 2017 files, and writes it back
# ------------------------------------------------------------------------------------------------------------

def test_2017_listed_origin_point_and_partial_scores_round_trip(tmp_path):
    p = person(3, 0, {name: 0.7 for name in P15[:5]})
    p["xy"]["nose"] = (0.0, 0.0, 0)
    src = tmp_path / f"{SEQ_A}.json"
    src.write_text(json.dumps(file17(SEQ_A, [[p]])))
    seq = read_sequence(src, role="any")
    person0 = seq.frames[0].people[0]
    nose = P18.index("nose")
    assert person0.present[nose] and not person0.keypoints[nose].any()  # listed although 0, 0, 0
    assert person0.present.sum() == 15
    assert [P18[i] for i in np.flatnonzero(person0.scored)] == sorted(P15[:5], key=P18.index)
    # 2017 -> 2017 keeps the point and writes a score only where there was one.
    write_sequence(seq, tmp_path / "back17.json", fmt="2017")
    points = json.loads((tmp_path / "back17.json").read_text())["annolist"][0]["annorect"][0]["annopoints"][0]
    by_id = {pt["id"][0]: pt for pt in points["point"]}
    assert len(by_id) == 15 and by_id[P15.index("nose")]["x"] == [0.0]
    assert sorted(i for i, pt in by_id.items() if "score" in pt) == list(range(5))
    # 2017 -> 2018 writes the origin point as 0, 0, 0 and the missing scores as 0, as poseval's convert.py does.
    write_sequence(seq, tmp_path / "back18.json", fmt="2018")
    ann = json.loads((tmp_path / "back18.json").read_text())["annotations"][0]
    assert ann["keypoints"][3 * nose:3 * nose + 3] == [0, 0, 0]
    assert sorted(s for s in ann["scores"] if s != 0) == [0.7] * 5


# ------------------------------------------------------------------------------------------------------------
# What poseval reads without complaint and the strict reader refuses (read_sequence(..., lenient=True))
# ------------------------------------------------------------------------------------------------------------

def test_scores_list_longer_than_keypoints_uses_its_first_entries(tmp_path):
    # One frame, GT person 0. Prediction with a 15-name category: person 0 exact, 'scores' of 17 entries, the 15
    # first -5 and 2 extra 0.9; person 1 far away, a false positive with 15 scores -1.
    pred = file18(SEQ_A, [[person(0, 0), person(1, 500, -1.0)]], names=P15)
    pred["annotations"][0]["scores"] = [-5.0] * 15 + [0.9, 0.9]
    result = run(tmp_path, {SEQ_A: file18(SEQ_A, [[person(0, 0)]])}, {SEQ_A: pred}, mot=False)
    # convert.Person.from_new reads scores[k] for the 15 keypoints only: the TP has -5 < -1, the FP ranks first:
    # precision (0, 1/2), recall (0, 1) -> AP 50 on every joint.
    assert_all(result, "ap", 50.0)
    with pytest.raises(PoseTrackFormatError, match="'scores' has 17 entries"):
        read_sequence(tmp_path / "pred" / f"{SEQ_A}.json", role="any")


def test_annotations_of_no_image_are_ignored(tmp_path):
    # 2 frames, GT person 0, prediction person 0 exact (0.9) plus, in the prediction file, an annotation whose
    # image_id names no image (and which has no track id): convert.Video.from_new only attaches annotations to
    # the images it walks through, so poseval never sees it.
    pred = file18(SEQ_A, [[person(0, 0, 0.9)]] * 2)
    orphan = dict(pred["annotations"][0], image_id=123)
    del orphan["track_id"]
    pred["annotations"].append(orphan)
    result = run(tmp_path, {SEQ_A: file18(SEQ_A, [[person(0, 0)]] * 2)}, {SEQ_A: pred})
    # Only the two exact predictions count: AP, precision, recall 100; MOT (frame 0) one match: MOTA 100.
    for key in ("ap", "ap_precision", "ap_recall", "mota", "precision"):
        assert_all(result, key, 100.0)
    with pytest.raises(PoseTrackFormatError, match="matches no entry"):
        read_sequence(tmp_path / "pred" / f"{SEQ_A}.json", role="any")
