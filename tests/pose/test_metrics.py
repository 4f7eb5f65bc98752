"""Training accuracy, MPII PCKh, OKS and COCO AP against the official code's numbers."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import scipy.io

from pose.metrics import (PCKH_NAMES, MPIIGroundTruth, coco_keypoint_eval, coco_rescore_nms, coco_results,
                          heatmap_accuracy, load_coco_gt, load_mpii_gt, mpii_pckh)
from pose.evaluate import main as evaluate_main
from tests.conftest import REPO_ROOT, shared_path


@pytest.fixture
def ref(hrnet_reference):
    return hrnet_reference


def test_accuracy_matches_official(ref):
    arrays, results = ref
    acc, avg, count = heatmap_accuracy(arrays["accuracy.output"], arrays["accuracy.target"])
    np.testing.assert_allclose(acc, arrays["accuracy.acc"])
    assert avg == results["accuracy"]["avg_acc"] and count == results["accuracy"]["cnt"]


def test_accuracy_by_hand():
    target = np.zeros((1, 2, 20, 10), np.float32)
    target[0, 0, 5, 5] = target[0, 1, 10, 5] = 1
    output = np.zeros_like(target)
    output[0, 0, 5, 5] = 1          # exact
    output[0, 1, 10, 7] = 1         # 2 px in x; normaliser h / 10 = 2 -> distance 1 >= 0.5: wrong
    acc, avg, count = heatmap_accuracy(output, target)
    assert list(acc) == [0.5, 1.0, 0.0] and avg == 0.5 and count == 2


def test_pckh_matches_official(ref):
    arrays, results = ref
    gt = MPIIGroundTruth(arrays["mpii.pos_gt_src"], arrays["mpii.jnt_missing"], arrays["mpii.headboxes_src"])
    table = mpii_pckh(arrays["mpii.preds"], gt)
    assert tuple(table) == PCKH_NAMES
    for name, value in results["mpii_pckh"].items():
        assert table[name] == pytest.approx(value, abs=1e-9), name


def _valid_preds(path):
    # The file's predictions are MATLAB 1-based (16, 2, N); the evaluator takes 0-based (N, 16, 2).
    return np.transpose(scipy.io.loadmat(str(path))["pos_pred_src"], (2, 0, 1)) - 1.0


def test_pckh_on_mpii_validation_set():
    path = shared_path("data", "mpii", "mpii_valid_gt.mat")
    gt = load_mpii_gt(path)
    assert gt.num_people == 2958
    table = mpii_pckh(_valid_preds(path), gt)
    # Ground truth as predictions: every visible joint is correct at any threshold.
    perfect = mpii_pckh(np.transpose(gt.pos_gt_src, (2, 0, 1)) - 1.0, gt)
    assert all(v == pytest.approx(100.0) for v in perfect.values())
    assert 0 < table["Mean@0.1"] < table["Mean"] < 100
    assert table["Head"] > table["Ankle"]


def test_pckh_cli(tmp_path):
    path = shared_path("data", "mpii", "mpii_valid_gt.mat")
    preds = tmp_path / "pred.npz"
    np.savez(preds, preds=_valid_preds(path))
    out = tmp_path / "pckh.json"
    proc = subprocess.run([sys.executable, "-m", "pose.evaluate", "mpii", "--gt", str(path), "--pred", str(preds),
                           "--json", str(out)], capture_output=True, text=True, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr
    assert all(name in proc.stdout for name in PCKH_NAMES)
    written = json.loads(out.read_text())
    assert written == pytest.approx(mpii_pckh(_valid_preds(path), load_mpii_gt(path)))


def test_cli_errors(tmp_path, capsys):
    gt = shared_path("data", "mpii", "mpii_valid_gt.mat")
    preds = tmp_path / "pred.npy"
    np.save(preds, np.zeros((3, 16, 2)))
    cases = [
        (["mpii", "--gt", str(tmp_path / "no.mat"), "--pred", str(preds)], "no.mat does not exist"),
        (["mpii", "--gt", str(gt), "--pred", str(preds)], "must have shape (2958, 16, 2)"),
        (["mpii", "--gt", str(gt), "--pred", str(tmp_path / "p.txt")], "does not exist"),
        (["coco", "--gt", str(tmp_path / "ann.json"), "--pred", str(preds)], "ann.json does not exist"),
    ]
    (tmp_path / "bad.json").write_text("{not json")
    cases.append((["coco", "--gt", str(shared_path("data", "coco", "test_coco.json")), "--pred",
                   str(tmp_path / "bad.json")], "is not valid JSON"))
    for argv, message in cases:
        capsys.readouterr()
        assert evaluate_main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("error:") and message in err, (argv, err)


def test_oks_and_oks_nms_match_official(ref):
    from pose.similarity import oks_matrix, oks_nms

    arrays, results = ref
    kpts, areas, scores = arrays["oks.keypoints"], arrays["oks.areas"], arrays["oks.scores"]
    row = oks_matrix(kpts[:1], kpts[1:], areas[:1], areas[1:])[0]
    np.testing.assert_allclose(row, arrays["oks_iou.0_vs_all"], rtol=1e-12)
    assert list(oks_nms(kpts, scores, areas, 0.9)) == results["nms_keep_indices"]["oks_nms_0.9"]
    # The training/validation path: rescoring keeps the official order when all joints are confident.
    people = [{"image_id": 1, "keypoints": np.concatenate([k[:, :2], np.ones((17, 1))], 1), "area": a, "score": s}
              for k, a, s in zip(kpts, areas, scores)]
    kept = coco_rescore_nms(people, in_vis_thre=0.2, oks_thre=0.9)
    assert [p["score"] for p in kept] == [scores[i] for i in results["nms_keep_indices"]["oks_nms_0.9"]]


def test_rescoring_by_hand():
    kpts = np.zeros((17, 3))
    kpts[:, 0] = np.arange(17) * 10.0
    kpts[:, 2] = 0.1
    kpts[:4, 2] = [0.9, 0.5, 0.3, 0.2]   # 0.2 is not > 0.2
    kept = coco_rescore_nms([{"image_id": 3, "keypoints": kpts, "area": 100.0, "score": 0.5}])
    assert kept[0]["score"] == pytest.approx(0.5 * (0.9 + 0.5 + 0.3) / 3)


def test_coco_ap_of_ground_truth_is_one():
    path = shared_path("data", "coco", "test_coco.json")
    gt = load_coco_gt(path)
    people = [{"image_id": a["image_id"], "keypoints": np.array(a["keypoints"], float).reshape(17, 3) * [1, 1, 0.4],
               "area": a["bbox"][2] * a["bbox"][3], "score": 1.0}
              for a in gt.dataset["annotations"] if a["num_keypoints"] > 0]
    stats = coco_keypoint_eval(gt, coco_results(coco_rescore_nms(people)), verbose=False)
    assert stats["AP"] == pytest.approx(1.0) and stats["AR"] == pytest.approx(1.0)
    # Moving every prediction by a fifth of its box breaks most matches.
    shifted = [{**p, "keypoints": p["keypoints"] + [np.sqrt(p["area"]) / 5, 0, 0]} for p in people]
    assert coco_keypoint_eval(gt, coco_results(shifted), verbose=False)["AP"] < 0.5


def test_coco_cli(tmp_path):
    path = shared_path("data", "coco", "test_coco.json")
    anns = json.loads(path.read_text())["annotations"]
    results = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
               for a in anns if a["num_keypoints"] > 0]
    pred = tmp_path / "results.json"
    pred.write_text(json.dumps(results))
    out = tmp_path / "ap.json"
    proc = subprocess.run([sys.executable, "-m", "pose.evaluate", "coco", "--gt", str(path), "--pred", str(pred),
                           "--json", str(out)], capture_output=True, text=True, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["AP"] == pytest.approx(1.0)
