"""``python -m tracker.run --format``: PoseTrack21 output in submission mode, picked by ``auto`` from a PoseTrack21
ground truth, and scored by ``python -m tracker.evaluate --hota``."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from pose.data import synthetic
from pose.data.posetrack import main as posetrack_main
from pose.data.posetrack import read_sequence
from pose.data.posetrack.format21 import KIT_JOINT_NAMES, read_posetrack21
from pose.data.synthetic.detections import detections_by_image_id
from tests.tracker.conftest import TINY
from tracker.eval.cli import main as evaluate_main
from tracker.run import main as run_main


@pytest.fixture(scope="module")
def pt21_set(tmp_path_factory) -> Path:
    """2 synthetic videos of 3 frames, ground truth in PoseTrack21, one detection file keyed by image id."""
    root = tmp_path_factory.mktemp("pt21set")
    assert synthetic.main(["--out", str(root), "--videos", "2", "--frames", "3", "--size", "160x120", "--seed", "4",
                           "--no-videos", "--quiet"]) == 0
    assert posetrack_main(["convert", str(root / "annotations"), str(root / "gt21"), "--format", "21"]) == 0
    (root / "dets.json").write_text(json.dumps(detections_by_image_id(root, root / "gt21")))
    return root


def _run(root: Path, weights: Path, out: Path, *extra: str) -> int:
    return run_main(["--images", str(root), "--gt-dir", str(root / "gt21"), "--out", str(out), "--detector",
                     f"file:{root / 'dets.json'}", "--pose-model", TINY, "--pose-weights", str(weights),
                     "--no-progress", "--quiet", *extra])


def test_auto_format_writes_posetrack21_and_scores_with_hota(pt21_set, tiny_weights, tmp_path, capsys):
    out = tmp_path / "pred"
    assert _run(pt21_set, tiny_weights, out) == 0
    for gt_file in sorted((pt21_set / "gt21").glob("*.json")):
        data = json.loads((out / gt_file.name).read_text())
        assert all("person_id" in ann and len(ann["scores"]) == 17 for ann in data["annotations"])
        assert data["annotations"], "the detections gave people"
        pred, gt = read_posetrack21(out / gt_file.name, "pred"), read_posetrack21(gt_file, "gt")
        assert pred.source_format == "21"
        assert [f.image_id for f in pred.frames] == [f.image_id for f in gt.frames]
        assert [f.is_labeled for f in pred.frames] == [f.is_labeled for f in gt.frames]
    capsys.readouterr()
    result_file = tmp_path / "result.json"
    assert evaluate_main(["--gt", str(pt21_set / "gt21"), "--pred", str(out), "--hota", "--json",
                          str(result_file)]) == 0
    printed = capsys.readouterr().out
    assert "Keypoint HOTA" in printed and "Average Precision" in printed and "MOTA" in printed
    result = json.loads(result_file.read_text())
    hota = result["hota"]
    assert set(hota["HOTA"]["per_joint"]) == set(KIT_JOINT_NAMES)
    tp, fn = hota["HOTA_TP"]["total"], hota["HOTA_FN"]["total"]
    assert tp + fn > 0 and all(0 <= hota[k]["total"] <= 1 for k in ("HOTA", "DetA", "AssA", "LocA"))


def test_explicit_format_2018(pt21_set, tiny_weights, tmp_path):
    out = tmp_path / "pred"
    assert _run(pt21_set, tiny_weights, out, "--format", "2018") == 0
    for gt_file in sorted((pt21_set / "gt21").glob("*.json")):  # the predictions, beside run_summary.json
        assert read_sequence(out / gt_file.name, role="pred").source_format == "2018"
