"""PoseTrack 2017/2018 reader, writers and converters (pose/data/posetrack.py).

Round trips run on every reference file (the poseval parity cases and real PoseTrack18 ground truth) and
compare, field by field, everything the official evaluator reads. A battery of malformed files checks that
each is refused with one sentence naming the file, the frame and the field, also through the CLI.
"""
from __future__ import annotations

import copy
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO_ROOT, shared_path
from pose.data.posetrack import (
    PoseTrackFormatError,
    check_prediction_matches_gt,
    convert_file,
    main,
    posetrack_image_id,
    read_sequence,
    read_sequence_dir,
    sequence_from_arrays,
    to_posetrack17_dict,
    to_posetrack18_dict,
    write_sequence,
)
from pose.keypoints import POSETRACK17_JOINTS, POSETRACK18_JOINTS

EVALUATED = np.array([POSETRACK18_JOINTS.index(n) for n in POSETRACK17_JOINTS])  # the 15 joints poseval scores


def reference_files():
    """(path, role) of every GT and prediction file of the poseval cases and the real PoseTrack18 val GT."""
    root = shared_path("reference", "poseval")
    files = [(p, p.parent.name) for p in sorted(root.glob("*/*/*.json")) if p.parent.name in ("gt", "pred")]
    files += [(p, "gt") for p in sorted(shared_path("data", "posetrack18", "annotations", "val").glob("*.json"))]
    assert len(files) >= 70
    return files


def evaluator_view(seq, head_decimals=None):
    """Everything poseval reads from a sequence, as plain Python values, frame by frame."""
    frames = []
    for f in seq.frames:
        people = []
        for p in f.people:
            present = p.present[EVALUATED]
            kp = p.keypoints[EVALUATED][present]
            head = None if p.head_box is None else p.head_box.tolist()
            if head is not None and head_decimals is not None:
                head = np.round(head, head_decimals).tolist()
            people.append({
                "track_id": p.track_id,
                "present": present.tolist(),
                "xy": kp[:, :2].tolist(),
                "v": kp[:, 2].tolist(),
                "scores": None if p.scores is None else p.scores[EVALUATED][present].tolist(),
                "head": head,
            })
        frames.append({
            "file_name": f.file_name,
            "image_id": f.image_id,
            "is_labeled": f.is_labeled,
            "ignore": [r.tolist() for r in f.ignore_regions],
            "people": people,
        })
    return frames


# ----------------------------------------------------------------------------------------------------------
# Reading and round trips on every reference file
# ----------------------------------------------------------------------------------------------------------

def test_reference_files_read_with_expected_content():
    files = reference_files()
    for path, role in files:
        seq = read_sequence(path, role)
        raw = json.loads(path.read_text())
        if seq.source_format == "2018":
            assert [f.file_name for f in seq.frames] == [im["file_name"] for im in raw["images"]]
            assert sum(len(f.people) for f in seq.frames) == len(raw["annotations"])
            # keypoints land in POSETRACK18 order: the first annotation, joint by joint
            if raw["annotations"]:
                ann = raw["annotations"][0]
                person = next(p for f in seq.frames if f.image_id == ann["image_id"] for p in f.people)
                np.testing.assert_array_equal(person.keypoints.ravel(), np.asarray(ann["keypoints"], float))
                if role == "gt":
                    x, y, w, h = ann["bbox_head"]
                    np.testing.assert_array_equal(person.head_box, [x, y, x + w, y + h])
        else:
            assert "2017" in str(path)
            assert [f.file_name for f in seq.frames] == [e["image"][0]["name"] for e in raw["annolist"]]
        for f in seq.frames:
            for p in f.people:
                assert p.keypoints.shape == (17, 3) and p.keypoints.dtype == np.float64
                assert (p.scores is not None) == (role == "pred")
                if role == "gt":
                    assert p.head_box is not None and p.head_box.shape == (4,)


def test_same_format_write_back_changes_nothing(tmp_path):
    """Reading and writing a file in its own format gives back the same JSON object, every field included."""
    for n, (path, role) in enumerate(reference_files()):
        seq = read_sequence(path, role)
        out = tmp_path / f"{n}_{path.name}"
        write_sequence(seq, out, seq.source_format)
        assert json.loads(out.read_text()) == json.loads(path.read_text()), path


def test_cross_format_round_trips_keep_every_evaluated_field(tmp_path):
    """2018 -> 2017 -> 2018 (and 2017 -> 2018 -> 2017) through files keeps what poseval reads, exactly."""
    for n, (path, role) in enumerate(reference_files()):
        seq = read_sequence(path, role)
        other = "2017" if seq.source_format == "2018" else "2018"
        mid, back = tmp_path / f"{n}_mid_{path.name}", tmp_path / f"{n}_back_{path.name}"
        convert_file(path, mid, other)
        convert_file(mid, back, seq.source_format)
        mid_seq, back_seq = read_sequence(mid, role), read_sequence(back, role)
        assert mid_seq.source_format == other and back_seq.source_format == seq.source_format
        assert evaluator_view(mid_seq) == evaluator_view(seq), path
        assert evaluator_view(back_seq) == evaluator_view(seq), path
        # the bytes of the evaluator's fields in the returned file equal the original ones
        if seq.source_format == "2017":
            assert json.loads(back.read_text()) == json.loads(path.read_text()), path
        else:
            orig, again = json.loads(path.read_text()), json.loads(back.read_text())
            assert [im["file_name"] for im in again["images"]] == [im["file_name"] for im in orig["images"]]
            for a, b in zip(again["annotations"], orig["annotations"]):
                kp_a, kp_b = np.reshape(a["keypoints"], (17, 3)), np.reshape(b["keypoints"], (17, 3))
                np.testing.assert_array_equal(kp_a[EVALUATED], kp_b[EVALUATED])
                assert a["track_id"] == b["track_id"] and a["image_id"] == b["image_id"]
                assert a.get("bbox_head") == b.get("bbox_head")
                if role == "pred":
                    present = np.any(kp_b != 0, axis=1)[EVALUATED]
                    np.testing.assert_array_equal(np.asarray(a["scores"])[EVALUATED][present],
                                                  np.asarray(b["scores"])[EVALUATED][present])
            for a, b in zip(again["images"], orig["images"]):
                assert (a["ignore_regions_x"], a["ignore_regions_y"], a["is_labeled"]) == \
                       (b["ignore_regions_x"], b["ignore_regions_y"], b["is_labeled"])


def test_2017_reference_reads_as_its_2018_twin():
    """realistic_2017 is the realistic case written in the 2017 format: same frames, people and joints."""
    root = shared_path("reference", "poseval")
    for role in ("gt", "pred"):
        for path18 in sorted((root / "realistic" / role).glob("*.json")):
            s18 = read_sequence(path18, role)
            s17 = read_sequence(root / "realistic_2017" / role / path18.name, role)
            a, b = evaluator_view(s18, head_decimals=9), evaluator_view(s17, head_decimals=9)
            for fa, fb in zip(a, b):  # poseval's converter marks labeled-but-empty frames unlabeled in 2017
                fa.pop("is_labeled"), fb.pop("is_labeled")
            assert a == b, path18


def test_to_2017_dict_follows_poseval_layout():
    path = shared_path("reference", "poseval", "realistic", "gt", "001001_mpii_test.json")
    seq = read_sequence(path, "gt")
    d17 = to_posetrack17_dict(seq)
    raw = json.loads(path.read_text())
    frame = next(i for i, im in enumerate(raw["images"]) if im["ignore_regions_x"])
    entry = d17["annolist"][frame]
    assert entry["imgnum"] == [frame + 1]  # frame number + 1, as poseval's converter writes it
    region = entry["ignore_regions"][0]["point"]
    assert [p["x"][0] for p in region] == raw["images"][frame]["ignore_regions_x"][0]
    assert [p["y"][0] for p in region] == raw["images"][frame]["ignore_regions_y"][0]
    ann = raw["annotations"][0]
    rect = next(r for e, im in zip(d17["annolist"], raw["images"]) if im["id"] == ann["image_id"]
                for r in e["annorect"])
    x, y, w, h = ann["bbox_head"]
    assert (rect["x1"], rect["y1"], rect["x2"], rect["y2"]) == ([x], [y], [x + w], [y + h])
    kp = np.reshape(ann["keypoints"], (17, 3))
    for point in rect["annopoints"][0]["point"]:
        k = POSETRACK18_JOINTS.index(POSETRACK17_JOINTS[point["id"][0]])
        assert [point["x"][0], point["y"][0], point["is_visible"][0]] == kp[k].tolist()
    assert len(rect["annopoints"][0]["point"]) == int(np.any(kp[EVALUATED] != 0, axis=1).sum())
    d18 = to_posetrack18_dict(seq)
    assert d18["categories"][0]["keypoints"] == list(POSETRACK18_JOINTS)


def test_read_sequence_dir_sorted_and_image_ids():
    seqs = read_sequence_dir(shared_path("reference", "poseval", "perfect", "pred"), "pred")
    assert [s.name for s in seqs] == sorted(s.name for s in seqs)
    assert len(seqs) == 5
    f = seqs[0].frames[2]
    assert f.image_id == posetrack_image_id(f.file_name)
    # poseval: type digit * 1e10 + video number * 1e4 + frame number
    assert posetrack_image_id("images/val/000342_mpii_test/000002.jpg") == 10003420002
    assert posetrack_image_id("images/val/016236_bonn_test/000017.jpg") == 20162360017


# ----------------------------------------------------------------------------------------------------------
# Producers: predictions from arrays
# ----------------------------------------------------------------------------------------------------------

def test_sequence_from_arrays_writes_an_evaluable_prediction(tmp_path):
    gt_path = shared_path("reference", "poseval", "perfect", "gt", "000342_mpii_test.json")
    gt = read_sequence(gt_path, "gt")
    rng = np.random.default_rng(0)
    file_names = [f.file_name for f in gt.frames]
    kps, scs, tids = [], [], []
    for t, _ in enumerate(file_names):
        n = t % 3  # 0, 1 or 2 people
        kps.append(rng.uniform(10, 500, (n, 17, 2)))
        scs.append(rng.uniform(0.05, 0.95, (n, 17)))
        tids.append(np.arange(n) + 7)
    kps[1][0, 5] = np.nan  # NaN coordinates -> absent
    scs[1][0, 6] = 0.01  # below the threshold -> absent
    seq = sequence_from_arrays("000342_mpii_test", file_names, kps, scs, tids, score_threshold=0.02)
    out = tmp_path / "pred" / "000342_mpii_test.json"
    write_sequence(seq, out)
    back = read_sequence(out, "pred")
    check_prediction_matches_gt(back, gt)
    raw = json.loads(out.read_text())
    assert raw["categories"][0]["keypoints"] == list(POSETRACK18_JOINTS)
    assert [im["file_name"] for im in raw["images"]] == file_names
    assert [im["id"] for im in raw["images"]] == [f.image_id for f in gt.frames]
    assert all(isinstance(a["track_id"], int) and len(a["scores"]) == 17 for a in raw["annotations"])
    p = back.frames[1].people[0]
    assert p.track_id == 7
    np.testing.assert_array_equal(p.keypoints[5], [0, 0, 0])
    np.testing.assert_array_equal(p.keypoints[6], [0, 0, 0])
    assert p.scores[5] == 0 and p.scores[6] == 0
    ears = [POSETRACK18_JOINTS.index("left_ear"), POSETRACK18_JOINTS.index("right_ear")]
    for f in back.frames:
        for q in f.people:
            np.testing.assert_array_equal(q.keypoints[ears], 0)
    keep = [k for k in range(17) if k not in (5, 6, *ears)]
    np.testing.assert_array_equal(p.keypoints[keep, :2], kps[1][0, keep])
    np.testing.assert_array_equal(p.keypoints[keep, 2], 1)
    np.testing.assert_array_equal(p.scores[keep], scs[1][0, keep])


def test_check_prediction_matches_gt_names_first_differing_frame():
    gt = read_sequence(shared_path("reference", "poseval", "perfect", "gt", "000342_mpii_test.json"), "gt")
    pred = read_sequence(shared_path("reference", "poseval", "perfect", "pred", "000342_mpii_test.json"), "pred")
    check_prediction_matches_gt(pred, gt)
    short = copy.copy(pred)
    short.frames = pred.frames[:-1]
    with pytest.raises(PoseTrackFormatError, match=r"frame 33 \(images/val/000342_mpii_test/000033.jpg\).*'images'"):
        check_prediction_matches_gt(short, gt)
    swapped = copy.copy(pred)
    swapped.frames = [pred.frames[0], pred.frames[2], pred.frames[1]] + pred.frames[3:]
    with pytest.raises(PoseTrackFormatError, match=r"frame 1 \(images/val/000342_mpii_test/000002.jpg\).*'file_name'"):
        check_prediction_matches_gt(swapped, gt)


# ----------------------------------------------------------------------------------------------------------
# Malformed files
# ----------------------------------------------------------------------------------------------------------

FILE = "000342_mpii_test.json"
FRAME1 = "frame 1 (images/val/000342_mpii_test/000001.jpg)"


def valid_2018(pred=False):
    """A small valid sequence: 2 frames, 2 people in frame 1."""
    images = [{"file_name": f"images/val/000342_mpii_test/00000{i}.jpg", "id": 10003420000 + i,
               "frame_id": 10003420000 + i, "vid_id": "000342", "nframes": 2, "is_labeled": True,
               "ignore_regions_x": [], "ignore_regions_y": []} for i in range(2)]
    anns = []
    for t in range(2):
        kp = np.zeros((17, 3))
        kp[[0, 1, 2] + list(range(5, 17))] = [100.0 + 10 * t, 200.0, 1]
        ann = {"image_id": 10003420001, "track_id": t, "keypoints": kp.ravel().tolist(), "category_id": 1,
               "id": t, "bbox": [90, 190, 50, 100]}
        if pred:
            ann["scores"] = [0.5] * 17
        else:
            ann["bbox_head"] = [95, 180, 20, 25]
            ann["scores"] = []
        anns.append(ann)
    cats = [{"supercategory": "person", "id": 1, "name": "person", "keypoints": list(POSETRACK18_JOINTS)}]
    return {"images": images, "annotations": anns, "categories": cats}


def valid_2017(pred=False):
    """The same sequence in the 2017 format, made by this module's 2018 reader and 2017 writer."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / FILE
        path.write_text(json.dumps(valid_2018(pred)))
        return to_posetrack17_dict(read_sequence(path, "pred" if pred else "gt"))


def mutate(d, fn):
    d = copy.deepcopy(d)
    fn(d)
    return d


def _set(obj, key, value):
    obj[key] = value


MALFORMED = {
    # name: (file content (dict or raw text), role, fragments every message must contain)
    "not_json": ('{"images": [', "gt", [FILE, "not valid JSON", "line 1"]),
    "empty_file": ("", "gt", [FILE, "empty"]),
    "top_level_list": ("[1, 2]", "gt", [FILE, "top level", "list"]),
    "no_images": ({"annotations": []}, "gt", [FILE, "'images'", "'annolist'"]),
    "images_empty": (mutate(valid_2018(), lambda d: _set(d, "images", [])), "gt", [FILE, "'images'"]),
    "keypoint_count": (mutate(valid_2018(), lambda d: d["annotations"][1]["keypoints"].pop()), "gt",
                       [FILE, FRAME1, "annotation 1", "'keypoints'", "50", "51"]),
    "keypoint_not_number": (mutate(valid_2018(), lambda d: _set(d["annotations"][0]["keypoints"], 3, "x")),
                            "gt", [FILE, FRAME1, "annotation 0", "'keypoints' value 3 is 'x'", "not a finite number"]),
    "track_id_float": (mutate(valid_2018(), lambda d: _set(d["annotations"][1], "track_id", 1.5)), "gt",
                       [FILE, FRAME1, "annotation 1", "'track_id'", "1.5", "not an integer"]),
    "track_id_missing": (mutate(valid_2018(True), lambda d: d["annotations"][0].pop("track_id")), "pred",
                         [FILE, FRAME1, "annotation 0", "'track_id'", "missing"]),
    "track_id_too_large": (mutate(valid_2018(), lambda d: _set(d["annotations"][0], "track_id", 10000)), "gt",
                           [FILE, FRAME1, "'track_id'", "10000", "below 10000"]),
    "duplicate_track_ids": (mutate(valid_2018(True), lambda d: _set(d["annotations"][1], "track_id", 0)), "pred",
                            [FILE, FRAME1, "'track_id' 0", "twice"]),
    "image_id_unknown": (mutate(valid_2018(), lambda d: _set(d["annotations"][1], "image_id", 5)), "gt",
                         [FILE, "annotation 1", "'image_id' 5", "no entry of 'images'"]),
    "duplicate_image_id": (mutate(valid_2018(), lambda d: _set(d["images"][1], "id", 10003420000)), "gt",
                           [FILE, FRAME1, "'id'", "frame 0"]),
    "bad_file_name": (mutate(valid_2018(), lambda d: _set(d["images"][1], "file_name", "val/clip_a/000001.jpg")),
                      "gt", ["frame 1 (val/clip_a/000001.jpg)", "'file_name'", "clip_a", "mpii|bonn|mpiinew"]),
    "bad_frame_name": (mutate(valid_2018(), lambda d: _set(d["images"][1], "file_name",
                                                           "images/val/000342_mpii_test/img1.jpg")),
                       "gt", ["frame 1 (images/val/000342_mpii_test/img1.jpg)", "'file_name'", "img1.jpg"]),
    "two_sequences": (mutate(valid_2018(), lambda d: _set(d["images"][1], "file_name",
                                                          "images/val/000343_mpii_test/000001.jpg")),
                      "gt", ["frame 1 (images/val/000343_mpii_test/000001.jpg)", "'file_name'", "000342_mpii_test"]),
    "gt_without_head_box": (mutate(valid_2018(), lambda d: d["annotations"][1].pop("bbox_head")), "gt",
                            [FILE, FRAME1, "annotation 1", "'bbox_head'", "missing"]),
    "head_box_three_numbers": (mutate(valid_2018(), lambda d: d["annotations"][0]["bbox_head"].pop()), "gt",
                               [FILE, FRAME1, "annotation 0", "'bbox_head'", "4 numbers"]),
    "pred_without_scores": (mutate(valid_2018(True), lambda d: d["annotations"][0].pop("scores")), "pred",
                            [FILE, FRAME1, "annotation 0", "'scores'", "missing or empty"]),
    "pred_16_scores": (mutate(valid_2018(True), lambda d: d["annotations"][1]["scores"].pop()), "pred",
                       [FILE, FRAME1, "annotation 1", "'scores'", "16 entries", "17"]),
    "category_names": (mutate(valid_2018(), lambda d: _set(d["categories"][0]["keypoints"], 1, "left_eye")),
                       "gt", [FILE, "'categories[0].keypoints'", "left_eye", "17 (or 15)"]),
    "no_categories": (mutate(valid_2018(True), lambda d: d.pop("categories")), "pred",
                      [FILE, "'categories'", "person"]),
    "ignore_region_lengths": (mutate(valid_2018(), lambda d: _set(d["images"][1], "ignore_regions_x", [[1, 2]])),
                              "gt", [FILE, FRAME1, "'ignore_regions_x'"]),
    "2017_point_id_out_of_range": (
        mutate(valid_2017(), lambda d: _set(d["annolist"][1]["annorect"][0]["annopoints"][0]["point"][0],
                                            "id", [15])),
        "gt", [FILE, FRAME1, "annorect 0", "'id'", "[15]"]),
    "2017_track_id_not_list": (mutate(valid_2017(True), lambda d: _set(d["annolist"][1]["annorect"][1],
                                                                       "track_id", 1)),
                               "pred", [FILE, FRAME1, "annorect 1", "'track_id'", "one-element list"]),
    "2017_gt_without_head_box": (mutate(valid_2017(), lambda d: d["annolist"][1]["annorect"][0].pop("x2")), "gt",
                                 [FILE, FRAME1, "annorect 0", "head box field 'x2' is missing"]),
    "2017_pred_point_without_score": (
        mutate(valid_2017(True), lambda d: d["annolist"][1]["annorect"][1]["annopoints"][0]["point"][2].pop("score")),
        "pred", [FILE, FRAME1, "annorect 1", "joint 14", "'score'"]),
    "2017_no_annorect": (mutate(valid_2017(), lambda d: d["annolist"][1].pop("annorect")), "gt",
                         [FILE, FRAME1, "'annorect'"]),
}


def _write_case(tmp_path, name, content):
    folder = tmp_path / name
    folder.mkdir()
    path = folder / FILE
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_valid_bases_read(tmp_path):
    """The bases the malformed cases are cut from are valid, so each case fails only for its own reason."""
    for n, (d, role) in enumerate([(valid_2018(), "gt"), (valid_2018(True), "pred"), (valid_2017(), "gt"),
                                   (valid_2017(True), "pred")]):
        p = tmp_path / str(n) / FILE
        p.parent.mkdir()
        p.write_text(json.dumps(d))
        seq = read_sequence(p, role)
        assert [len(f.people) for f in seq.frames] == [0, 2]
        assert seq.source_format == ("2017" if "annolist" in d else "2018")
        np.testing.assert_array_equal(seq.frames[1].people[1].keypoints[0], [110, 200, 1])


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_file_is_refused_with_one_clear_sentence(tmp_path, name, capsys):
    content, role, fragments = MALFORMED[name]
    path = _write_case(tmp_path, name, content)
    with pytest.raises(PoseTrackFormatError) as info:
        read_sequence(path, role)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert "\n" not in message and message.endswith(".")
    assert message.count(". ") == 0 or message.count(". ") == message.count("e.g. ")  # one sentence
    # the same through the CLI: exit 2, one line on stderr, no traceback
    assert main(["check", "--role", role, str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert message in err


def test_cli_subprocess_malformed_exit_2_and_convert(tmp_path):
    bad = _write_case(tmp_path, "bad", MALFORMED["keypoint_count"][0])
    run = subprocess.run([sys.executable, "-m", "pose.data.posetrack", "check", str(bad)],
                         capture_output=True, text=True, cwd=REPO_ROOT)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("error: ") and "Traceback" not in run.stderr
    assert "'keypoints'" in run.stderr and FRAME1 in run.stderr

    src = shared_path("reference", "poseval", "realistic", "pred", "000342_mpii_test.json")
    dst = tmp_path / "out17" / src.name
    run = subprocess.run([sys.executable, "-m", "pose.data.posetrack", "convert", str(src), str(dst),
                          "--format", "2017", "--role", "pred"], capture_output=True, text=True, cwd=REPO_ROOT)
    assert run.returncode == 0, run.stderr
    assert "annolist" in json.loads(dst.read_text())
    assert evaluator_view(read_sequence(dst, "pred")) == evaluator_view(read_sequence(src, "pred"))
    # a failed conversion leaves no output file behind
    missing = tmp_path / "nope.json"
    assert main(["convert", str(bad), str(tmp_path / "out" / "x.json"), "--format", "2017"]) == 2
    assert not (tmp_path / "out" / "x.json").exists()
    assert main(["check", str(missing)]) == 2


def test_cli_check_ok_and_against_gt(tmp_path, capsys):
    root = shared_path("reference", "poseval", "perfect")
    pred = root / "pred" / "000342_mpii_test.json"
    assert main(["check", "--role", "pred", "--gt", str(root / "gt"), str(pred)]) == 0
    out = capsys.readouterr().out
    assert "ok:" in out and "34 frames" in out
    # a prediction with one frame less fails the image check
    raw = json.loads(pred.read_text())
    raw["images"] = raw["images"][:-1]
    last = raw["images"][-1]["id"] + 1
    raw["annotations"] = [a for a in raw["annotations"] if a["image_id"] != last]
    short = tmp_path / pred.name
    short.write_text(json.dumps(raw))
    assert main(["check", "--role", "pred", "--gt", str(root / "gt"), str(short)]) == 2
    err = capsys.readouterr().err
    assert "frame 33 (images/val/000342_mpii_test/000033.jpg)" in err and "'images'" in err


def test_write_is_atomic_and_refuses_non_finite(tmp_path):
    seq = sequence_from_arrays("000342_mpii_test", ["images/val/000342_mpii_test/000000.jpg"],
                               [np.ones((1, 17, 2))], [np.ones((1, 17))], [np.array([0])])
    out = tmp_path / "p.json"
    write_sequence(seq, out)
    before = out.read_text()
    seq.frames[0].people[0].keypoints[0, 0] = np.inf
    with pytest.raises(PoseTrackFormatError, match="not finite"):
        write_sequence(seq, out)
    assert out.read_text() == before  # the old file is untouched, no temp file left
    assert [p.name for p in tmp_path.iterdir()] == ["p.json"]


def test_fifteen_keypoint_category_maps_by_name(tmp_path):
    """A category naming the 15 evaluated joints in poseval's order reads into POSETRACK18 slots, ears 0."""
    d = valid_2018(pred=True)
    d["categories"][0]["keypoints"] = list(POSETRACK17_JOINTS)
    for ann in d["annotations"]:
        kp = np.arange(45, dtype=float).reshape(15, 3) + 1 + 100 * ann["track_id"]
        ann["keypoints"] = kp.ravel().tolist()
        ann["scores"] = (np.arange(15) / 100).tolist()
    path = tmp_path / FILE
    path.write_text(json.dumps(d))
    person = read_sequence(path, "pred").frames[1].people[1]
    for j, name in enumerate(POSETRACK17_JOINTS):
        k = POSETRACK18_JOINTS.index(name)
        np.testing.assert_array_equal(person.keypoints[k], np.arange(3 * j, 3 * j + 3) + 101)
        assert person.scores[k] == j / 100
    np.testing.assert_array_equal(person.keypoints[[3, 4]], 0)
    written = to_posetrack18_dict(read_sequence(path, "pred"))
    assert written["categories"][0]["keypoints"] == list(POSETRACK18_JOINTS)
    assert all(len(a["keypoints"]) == 51 and len(a["scores"]) == 17 for a in written["annotations"])


def test_invisible_predicted_joint_survives_2017(tmp_path):
    """v == 0 with coordinates still counts for poseval: 2017 writes it with is_visible [0] and reads it back."""
    d = valid_2018(pred=True)
    d["annotations"][0]["keypoints"][3 * 5 + 2] = 0  # left_shoulder at (100, 200), v = 0
    src, mid = tmp_path / "a" / FILE, tmp_path / "b" / FILE
    src.parent.mkdir()
    src.write_text(json.dumps(d))
    convert_file(src, mid, "2017", role="pred")
    rect = json.loads(mid.read_text())["annolist"][1]["annorect"][0]
    points = {p["id"][0]: p for p in rect["annopoints"][0]["point"]}
    shoulder = points[POSETRACK17_JOINTS.index("left_shoulder")]
    assert shoulder["is_visible"] == [0] and shoulder["x"] == [100.0] and shoulder["score"] == [0.5]
    assert "is_visible" not in points[POSETRACK17_JOINTS.index("nose")]  # v == 1 is the 2017 default
    assert evaluator_view(read_sequence(mid, "pred")) == evaluator_view(read_sequence(src, "pred"))


def test_unparsable_file_names_only_with_check_off(tmp_path):
    """The tracker's output on an arbitrary video: writable, readable with check_file_names=False."""
    names = [f"clip/{t:06d}.jpg" for t in range(3)]
    seq = sequence_from_arrays("clip", names, [np.full((1, 17, 2), 5.0)] * 3, [np.ones((1, 17))] * 3,
                               [np.array([4])] * 3)
    out = tmp_path / "clip.json"
    write_sequence(seq, out)
    back = read_sequence(out, "pred", check_file_names=False)
    assert [f.image_id for f in back.frames] == [0, 1, 2]
    assert [f.file_name for f in back.frames] == names
    with pytest.raises(PoseTrackFormatError, match=r"frame 0 \(clip/000000.jpg\).*'file_name' cannot be parsed"):
        read_sequence(out, "pred")


def test_2017_people_without_points_write_back_unchanged(tmp_path):
    """poseval drops a rect without 'annopoints[0].point' but keeps one with an empty point list."""
    d = valid_2017()
    rects = d["annolist"][1]["annorect"]
    rects.append({"track_id": [5], "x1": [1.0], "y1": [2.0], "x2": [3.0], "y2": [4.0]})
    rects.append({"track_id": [6], "annopoints": [{"point": []}], "x1": [1.0], "y1": [2.0], "x2": [3.0],
                  "y2": [4.0]})
    src, dst = tmp_path / "a" / FILE, tmp_path / "b" / FILE
    src.parent.mkdir()
    src.write_text(json.dumps(d))
    seq = read_sequence(src, "gt")
    assert [p.present.any() for p in seq.frames[1].people] == [True, True, False, False]
    write_sequence(seq, dst, "2017")
    assert json.loads(dst.read_text()) == d


def test_check_reports_every_file_and_convert_into_a_new_folder(tmp_path, capsys):
    from pose.data.posetrack import main

    good = shared_path("reference", "poseval", "realistic", "gt", "000342_mpii_test.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert main(["check", str(good), str(bad), str(good)]) == 2
    captured = capsys.readouterr()
    assert captured.out.count("ok: ") == 2 and captured.err.count("error: ") == 1
    assert main(["convert", str(good), str(tmp_path / "new") + "/", "--format", "2017"]) == 0
    assert (tmp_path / "new" / good.name).is_file()
