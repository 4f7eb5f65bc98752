"""PoseTrack21 keypoint HOTA on hand-built inputs: the kit's rules and quirks (../shared/reference/pt21/README.md),
and the inputs the kit crashes on, which the reader refuses with a sentence naming file, frame and person.

Helper geometry: joint k of a person at (x0 + 10 k, 100 + 5 k), a 20 x 20 head box (head size 0.6 * sqrt(800) =
16.97 px, zero similarity from 0.5001 head sizes = 8.49 px on), people 500 px apart. A prediction at the exact
ground-truth position has similarity 1, a TP at every alpha, so every hand-computed value holds at all 19.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pose.data.posetrack import PoseTrackFormatError, read_sequence, write_sequence
from pose.data.posetrack.format21 import KIT_JOINT_NAMES, KIT_TO_PT18, read_posetrack21
from tracker.eval.pt21 import evaluate_pairs, load_pairs
from tracker.eval.cli import main

SEQ = "000001_mpii_test"


def keypoints(x0: float) -> list:
    kp = np.zeros((17, 3))
    kp[KIT_TO_PT18, 0] = x0 + 10 * np.arange(15)
    kp[KIT_TO_PT18, 1] = 100 + 5 * np.arange(15)
    kp[KIT_TO_PT18, 2] = 1
    return kp


def person(frame: int, track: int, x0: float, gt: bool = True, kp: np.ndarray | None = None) -> dict:
    kp = keypoints(x0) if kp is None else kp
    ann = {"image_id": image_id(frame), "track_id": track, "person_id": 100 + track, "category_id": 1,
           "keypoints": np.asarray(kp, dtype=float).ravel().tolist(), "bbox": [x0, 80, 150, 100]}
    if gt:
        ann["bbox_head"] = [x0, 60, 20, 20]
    else:
        ann["scores"] = [0.9] * 17
    return ann


def image_id(frame: int) -> int:
    return int(f"1000001{frame:04d}")


def images(n: int, labeled=None, regions=None) -> list:
    out = []
    for t in range(n):
        img = {"file_name": f"images/val/{SEQ}/{t:06d}.jpg", "id": image_id(t), "frame_id": image_id(t),
               "vid_id": "000001", "nframes": n, "is_labeled": True if labeled is None else bool(labeled[t]),
               "has_labeled_person": True, "ignore_regions_x": [], "ignore_regions_y": []}
        for polygon in (regions or {}).get(t, []):
            img["ignore_regions_x"].append([float(x) for x, _ in polygon])
            img["ignore_regions_y"].append([float(y) for _, y in polygon])
        out.append(img)
    return out


def write_case(tmp_path, gt_anns, pred_anns, n, labeled=None, regions=None, pred_images=None):
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir(exist_ok=True)
    pred_dir.mkdir(exist_ok=True)
    gt = {"images": images(n, labeled, regions), "annotations": gt_anns,
          "categories": [{"id": 1, "name": "person", "keypoints": []}]}
    pred_imgs = pred_images if pred_images is not None else [
        {k: img[k] for k in ("file_name", "id", "frame_id")} for img in images(n)]
    (gt_dir / f"{SEQ}.json").write_text(json.dumps(gt))
    (pred_dir / f"{SEQ}.json").write_text(json.dumps({"images": pred_imgs, "annotations": pred_anns}))
    return gt_dir, pred_dir


def hota(tmp_path, *args, **kwargs) -> dict:
    gt_dir, pred_dir = write_case(tmp_path, *args, **kwargs)
    return evaluate_pairs(load_pairs(gt_dir, pred_dir), ap=False, mot=False)["hota"]


def joint(result: dict, name: str, metric: str) -> float:
    return result[metric]["per_joint"][name]


def test_labelled_frame_without_predictions_adds_the_sequence_gt_joints(tmp_path):
    # 3 labelled frames, GT track 0 in each; predicted exactly in frames 0 and 1, nothing in frame 2.
    # Kit: frame 2 adds the sequence's 3 GT joints (not the frame's 1) to FN -> TP 2, FN 3, FP 0 per joint.
    # DetA = 2 / 5; AssA: G = 3, P = 2, M = 2 -> 4 / (3 + 2 - 2) / 2 = 2/3.
    r = hota(tmp_path, [person(t, 0, 100) for t in range(3)], [person(t, 7, 100, gt=False) for t in range(2)], 3)
    for name in KIT_JOINT_NAMES:
        assert joint(r, name, "HOTA_TP") == 2 and joint(r, name, "HOTA_FN") == 3 and joint(r, name, "HOTA_FP") == 0
    assert r["HOTA_FN"]["total"] == 45
    assert r["DetA"]["total"] == pytest.approx(2 / 5, abs=1e-12)
    assert r["AssA"]["total"] == pytest.approx(2 / 3, abs=1e-12)
    assert r["HOTA"]["total"] == pytest.approx(math.sqrt(2 / 5 * 2 / 3), abs=1e-12)


def test_a_prediction_without_joints_takes_the_normal_path(tmp_path):
    # As above, but frame 2 holds one predicted person whose joints are all 0, 0, 0: the frame is not empty, so it
    # adds its own GT joints (1 per joint) to FN -> TP 2, FN 1.
    pred = [person(t, 7, 100, gt=False) for t in range(2)] + [person(2, 8, 100, gt=False, kp=np.zeros((17, 3)))]
    r = hota(tmp_path, [person(t, 0, 100) for t in range(3)], pred, 3)
    assert r["HOTA_TP"]["total"] == 30 and r["HOTA_FN"]["total"] == 15 and r["HOTA_FP"]["total"] == 0


def test_sequence_without_any_prediction(tmp_path):
    r = hota(tmp_path, [person(t, 0, 100) for t in range(2)], [], 2)
    assert r["HOTA_FN"]["total"] == 30 and r["HOTA_TP"]["total"] == 0
    assert r["AssA"]["total"] == 0 and r["LocA"]["total"] == 1 and r["HOTA"]["total"] == 0


def test_joints_counted_by_coordinates_not_visibility(tmp_path):
    gt_kp = keypoints(100)
    gt_kp[0, 2] = 0  # Nose occluded (v = 0) but annotated: counts
    gt_kp[1, 1] = 0  # Neck at y = 0 (with v = 1): absent
    pred_kp = keypoints(100)
    pred_kp[:, 2] = 0  # the third value of predictions is replaced by the score: v = 0 does not matter
    r = hota(tmp_path, [person(0, 0, 100, kp=gt_kp)], [person(0, 3, 100, gt=False, kp=pred_kp)], 1)
    assert (joint(r, "Nose", "HOTA_TP"), joint(r, "Nose", "HOTA_FN"), joint(r, "Nose", "HOTA_FP")) == (1, 0, 0)
    assert (joint(r, "Neck", "HOTA_TP"), joint(r, "Neck", "HOTA_FN"), joint(r, "Neck", "HOTA_FP")) == (0, 0, 1)
    assert r["HOTA_TP"]["total"] == 14 and r["HOTA_FP"]["total"] == 1


def test_ignore_regions_apply_per_joint_and_drop_people_inside(tmp_path):
    # The polygon covers x in (155, 1000): joints 6.. of the person at x0 = 100 (x = 160, 170, ...), and the whole
    # person at x0 = 600 (GT track 1, predicted as track 9). Joints 0-5 stay (joint 5 at x = 150 < 155).
    polygon = [(155, 0), (1000, 0), (1000, 500), (155, 500)]
    gt = [person(0, 0, 100), person(0, 1, 600)]
    pred = [person(0, 3, 100, gt=False), person(0, 9, 600, gt=False)]
    gt_dir, pred_dir = write_case(tmp_path, gt, pred, 1, regions={0: [polygon]})
    result = evaluate_pairs(load_pairs(gt_dir, pred_dir), ap=False, mot=False, per_sequence=True)
    r = result["hota"]
    kept, removed = KIT_JOINT_NAMES[:6], KIT_JOINT_NAMES[6:]
    for name in kept:  # the other people's joints are all inside: only track 0 vs 3 remains
        assert (joint(r, name, "HOTA_TP"), joint(r, name, "HOTA_FN"), joint(r, name, "HOTA_FP")) == (1, 0, 0)
    for name in removed:  # neither a TP nor an FN or FP
        assert (joint(r, name, "HOTA_TP"), joint(r, name, "HOTA_FN"), joint(r, name, "HOTA_FP")) == (0, 0, 0)
    from tracker.eval.kit_frames import kit_frames
    from tracker.eval.hota import counts
    (gt_seq, pred_seq), = load_pairs(gt_dir, pred_dir)
    assert counts(kit_frames(gt_seq, pred_seq))["Dets"] == 1  # track 9 is dropped, not a person without joints


def test_point_on_the_polygon_edge_is_outside(tmp_path):
    # Joint 5 of the person at x0 = 100 lies at x = 150: exactly on the edge x = 150, so it stays.
    polygon = [(150, 0), (1000, 0), (1000, 500), (150, 500)]
    r = hota(tmp_path, [person(0, 0, 100)], [person(0, 3, 100, gt=False)], 1, regions={0: [polygon]})
    assert joint(r, "LE", "HOTA_TP") == 1 and joint(r, "RE", "HOTA_TP") == 0
    assert r["HOTA_TP"]["total"] == 6


def test_every_gt_person_inside_an_ignore_region(tmp_path):
    # The kit crashes (IndexError); here the frame simply has no GT people left and the prediction inside goes too.
    polygon = [(50, 0), (1000, 0), (1000, 500), (50, 500)]
    gt = [person(0, 0, 100), person(1, 0, 100)]
    pred = [person(0, 3, 100, gt=False), person(1, 3, 100, gt=False)]
    r = hota(tmp_path, gt, pred, 2, regions={0: [polygon]})
    assert r["HOTA_TP"]["total"] == 15 and r["HOTA_FN"]["total"] == 0 and r["HOTA_FP"]["total"] == 0


def test_unlabeled_frames_and_extra_prediction_images_are_dropped(tmp_path):
    # Frame 1 is unlabeled: its prediction (far from everything) is not a false positive; the prediction file
    # lists one image more than the ground truth, with a person, also ignored.
    extra = {"file_name": f"images/val/{SEQ}/000003.jpg", "id": image_id(3), "frame_id": image_id(3)}
    pred_images = [{k: img[k] for k in ("file_name", "id", "frame_id")} for img in images(3)] + [extra]
    gt = [person(0, 0, 100), person(2, 0, 100)]
    pred = [person(0, 3, 100, gt=False), person(1, 4, 900, gt=False), person(2, 3, 100, gt=False),
            person(3, 5, 900, gt=False)]
    r = hota(tmp_path, gt, pred, 3, labeled=[1, 0, 1], pred_images=pred_images)
    assert r["HOTA_TP"]["total"] == 30 and r["HOTA_FP"]["total"] == 0 and r["HOTA"]["total"] == 1


def test_labelled_frame_without_gt_people_counts_false_positives(tmp_path):
    # The kit crashes on a labelled frame without annotations; here its predicted joints are false positives.
    r = hota(tmp_path, [person(0, 0, 100)], [person(0, 3, 100, gt=False), person(1, 3, 100, gt=False)], 2)
    assert r["HOTA_TP"]["total"] == 15 and r["HOTA_FP"]["total"] == 15
    assert r["DetA"]["total"] == pytest.approx(0.5, abs=1e-12)


def test_fragmentation_and_association(tmp_path):
    # GT track 0 in 4 frames, predicted exactly by ids A, B, A, A (A = 1, B = 2).
    # M(0, A) = 3, M(0, B) = 1, G = 4, P_A = 3, P_B = 1, TP = 4:
    # AssA = (9 / (4 + 3 - 3) + 1 / (4 + 1 - 1)) / 4 = 0.625; AssRe = (9 / 4 + 1 / 4) / 4; AssPr = (9 / 3 + 1) / 4.
    # Fragments of (0, A): lengths 1 and 2 -> 1 + 4 = 5; of (0, B): 1 -> FragA = (5 / 4 + 1 / 4) / 4 = 0.375.
    ids = [1, 2, 1, 1]
    r = hota(tmp_path, [person(t, 0, 100) for t in range(4)], [person(t, i, 100, gt=False) for t, i in enumerate(ids)],
             4)
    assert r["AssA"]["total"] == pytest.approx(0.625, abs=1e-12)
    assert r["AssRe"]["total"] == pytest.approx(10 / 16, abs=1e-12)
    assert r["AssPr"]["total"] == pytest.approx(1.0, abs=1e-12)
    assert r["FragA"]["total"] == pytest.approx(0.375, abs=1e-12)
    assert r["HOTA"]["total"] == pytest.approx(math.sqrt(0.625), abs=1e-12)
    assert r["FA-HOTA"]["total"] == pytest.approx(math.sqrt(math.sqrt(0.625 * 0.375)), abs=1e-12)


def test_unmatched_frames_do_not_end_a_fragment(tmp_path):
    # Ids A, (B far away: GT unmatched, B a false positive), A: one fragment of length 2 -> FragA = AssA.
    # G = 3, P_A = 2, M = 2, TP = 2: AssA = 4 / (3 + 2 - 2) / 2 = 2/3.
    pred = [person(0, 1, 100, gt=False), person(1, 2, 900, gt=False), person(2, 1, 100, gt=False)]
    r = hota(tmp_path, [person(t, 0, 100) for t in range(3)], pred, 3)
    assert r["AssA"]["total"] == pytest.approx(2 / 3, abs=1e-12)
    assert r["FragA"]["total"] == pytest.approx(2 / 3, abs=1e-12)


def test_localisation_similarity(tmp_path):
    # Every predicted joint 4 px to the right: d = 4 / 16.97, s = 1 - d / 0.5001 = 0.5287 -> a TP for the
    # 10 alphas 0.05 .. 0.50 only; LocA = s at those, and 1 (no TP) at the 9 others.
    head = 0.6 * math.sqrt(800)
    s = 1 - (4 / head) / 0.5001
    r = hota(tmp_path, [person(0, 0, 100)], [person(0, 3, 104, gt=False)], 1)
    assert r["DetA"]["total"] == pytest.approx(10 / 19, abs=1e-12)
    assert r["LocA"]["total"] == pytest.approx((10 * s + 9) / 19, abs=1e-12)
    assert r["LocA(0)"]["total"] == pytest.approx(s, abs=1e-12)


# ------------------------------------------------------------------------------------------------------------------
# Inputs the kit crashes on: clear errors naming the file, frame and person
# ------------------------------------------------------------------------------------------------------------------

def _error(tmp_path, capsys, gt, pred, n, **kwargs) -> str:
    gt_dir, pred_dir = write_case(tmp_path, gt, pred, n, **kwargs)
    assert main(["--gt", str(gt_dir), "--pred", str(pred_dir), "--hota"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_short_scores_list(tmp_path, capsys):
    pred = person(0, 3, 100, gt=False)
    pred["scores"] = [0.5] * 15
    err = _error(tmp_path, capsys, [person(0, 0, 100)], [pred], 1)
    assert f"pred/{SEQ}.json" in err and "frame 0" in err and "track_id 3" in err and "'scores' has 15" in err


def test_keypoints_that_are_not_numbers(tmp_path, capsys):
    pred = [person(0, 3, 100, gt=False), person(0, 4, 600, gt=False)]
    pred[1]["keypoints"][7] = "12"
    err = _error(tmp_path, capsys, [person(0, 0, 100)], pred, 1)
    assert "annotation 1 (track_id 4, person_id 104)" in err and "'keypoints' is not 51 finite numbers" in err


def test_duplicate_track_id_in_a_frame(tmp_path, capsys):
    pred = [person(0, 3, 100, gt=False), person(0, 3, 600, gt=False)]
    err = _error(tmp_path, capsys, [person(0, 0, 100)], pred, 1)
    assert "frame 0" in err and "'track_id' 3 is used by two people" in err and "person_id 103" in err


def test_negative_track_id(tmp_path, capsys):
    err = _error(tmp_path, capsys, [person(0, 0, 100)], [person(0, -1, 100, gt=False)], 1)
    assert "frame 0" in err and "'track_id' is -1" in err


def test_prediction_images_out_of_order(tmp_path, capsys):
    pred_images = [{k: img[k] for k in ("file_name", "id", "frame_id")} for img in images(2)][::-1]
    err = _error(tmp_path, capsys, [person(0, 0, 100), person(1, 0, 100)], [], 2, pred_images=pred_images)
    assert "frame 0" in err and "ground truth's order" in err


def test_prediction_with_missing_images(tmp_path, capsys):
    pred_images = [{k: img[k] for k in ("file_name", "id", "frame_id")} for img in images(1)]
    err = _error(tmp_path, capsys, [person(0, 0, 100), person(1, 0, 100)], [], 2, pred_images=pred_images)
    assert "has 1 images but the ground truth has 2" in err and "000001.jpg" in err


def test_annotation_of_an_unlisted_image(tmp_path, capsys):
    stray = person(5, 3, 100, gt=False)
    err = _error(tmp_path, capsys, [person(0, 0, 100)], [stray], 1)
    assert "annotation 0" in err and str(image_id(5)) in err and "matches no entry of 'images'" in err


def test_gt_person_without_head_box(tmp_path, capsys):
    gt = person(0, 4, 100)
    del gt["bbox_head"]
    err = _error(tmp_path, capsys, [gt], [], 1)
    assert f"gt/{SEQ}.json" in err and "frame 0" in err and "track_id 4, person_id 104" in err
    assert "'bbox_head' is missing" in err


# ------------------------------------------------------------------------------------------------------------------
# Conversion between PoseTrack21, 2018 and 2017
# ------------------------------------------------------------------------------------------------------------------

def test_round_trip_through_2018_and_2017(tmp_path):
    polygon = [(155, 0), (1000, 0), (1000, 500), (155, 500)]
    gt_dir, _ = write_case(tmp_path, [person(0, 0, 100), person(1, 2, 300)], [], 2, regions={1: [polygon]})
    seq = read_sequence(gt_dir / f"{SEQ}.json", "gt")
    assert seq.source_format == "21" and seq.frames[0].people[0].extra["person_id"] == 100
    for fmt in ("2018", "2017"):
        write_sequence(seq, tmp_path / f"{fmt}.json", fmt)
        other = read_sequence(tmp_path / f"{fmt}.json", "gt")
        write_sequence(other, tmp_path / f"back{fmt}.json", "21")
        back = read_posetrack21(tmp_path / f"back{fmt}.json", "gt")
        for a, b in zip(seq.frames, back.frames):
            assert a.image_id == b.image_id and a.is_labeled == b.is_labeled
            assert [p.track_id for p in a.people] == [p.track_id for p in b.people]
            for pa, pb in zip(a.people, b.people):
                np.testing.assert_allclose(pa.keypoints[KIT_TO_PT18], pb.keypoints[KIT_TO_PT18])
                np.testing.assert_allclose(pa.head_box, pb.head_box)
            assert len(a.ignore_regions) == len(b.ignore_regions)
            for ra, rb in zip(a.ignore_regions, b.ignore_regions):
                np.testing.assert_array_equal(ra, rb)
        # PoseTrack21's person_id survives 21 -> 21 only; from another format it defaults to the track id
        assert back.frames[1].people[0].extra["person_id"] == 2


def test_convert_cli_and_hota_on_2018_and_2017_folders(shared, tmp_path, capsys):
    """The reference case converted to 2018 and 2017 gives the kit's HOTA under --hota (same definition)."""
    from pose.data.posetrack import main as posetrack_main
    folder = shared("reference", "pt21", "small_jitter")
    expected = json.loads((folder / "expected.json").read_text())["hota"]["combined"]["alpha_mean"]
    for fmt in ("2018", "2017"):
        for side in ("gt", "pred"):
            assert posetrack_main(["convert", str(folder / side), str(tmp_path / fmt / side), "--format", fmt]) == 0
        out = tmp_path / f"{fmt}.json"
        assert main(["--gt", str(tmp_path / fmt / "gt"), "--pred", str(tmp_path / fmt / "pred"), "--hota",
                     "--json", str(out)]) == 0
        result = json.loads(out.read_text())
        assert {"ap", "mota", "hota"} <= set(result)
        for name in ("HOTA", "DetA", "AssA", "LocA", "FragA"):
            got = [result["hota"][name]["per_joint"][j] for j in KIT_JOINT_NAMES] + [result["hota"][name]["total"]]
            np.testing.assert_allclose(got, expected[name], rtol=0, atol=1e-9, err_msg=f"{fmt} {name}")
    capsys.readouterr()
    assert posetrack_main(["convert", str(tmp_path / "2018" / "pred"), str(tmp_path / "21"), "--format", "21"]) == 0
    assert read_sequence(tmp_path / "21" / "000522_mpii_test.json", "pred").source_format == "21"
