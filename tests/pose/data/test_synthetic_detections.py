"""Tests of the synthetic generator's detections (pose.data.synthetic): ground-truth boxes with seeded noise.

Checked: byte-identical files per seed, the frames and ground truth untouched by the detections, the miss rate and
false-positive rate of the options, the overlap of kept boxes with their person, exact boxes without noise, the
file read back by the tracker's ``file:`` detector, and the CLI's error for a bad option.
"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from pose.data import synthetic as syn
from tracker.detectors import DetectionFile
from tracker.types import Frame

SIZE = (320, 240)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of (N, 4) xyxy boxes."""
    x1, y1 = np.maximum(a[:, 0], b[:, 0]), np.maximum(a[:, 1], b[:, 1])
    x2, y2 = np.minimum(a[:, 2], b[:, 2]), np.minimum(a[:, 3], b[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a + area_b - inter)


@pytest.fixture(scope="module")
def truths() -> list[syn.FrameTruth]:
    """Ground truth of 40 frames of two videos with 4 people each."""
    out = []
    for video in range(2):
        out += [t for _, t in syn.generate_video(seed=5, frames=20, size=SIZE, num_people=4, video_index=video)]
    assert sum(len(t.track_ids) for t in out) > 100
    return out


def test_same_seed_same_bytes_and_detections_leave_ground_truth_alone(tmp_path):
    runs = []
    for name, noise in (("a", syn.DetectionNoise()), ("b", syn.DetectionNoise()), ("none", None)):
        syn.generate_dataset(tmp_path / name, videos=2, frames=8, seed=11, size=SIZE, write_videos=False,
                             progress=False, detections=noise)
        runs.append(tmp_path / name)
    a, b, none = runs
    for seq in ("000000_mpii_test", "000001_mpii_test"):
        det_a = (a / "detections" / f"{seq}.json").read_bytes()
        assert det_a == (b / "detections" / f"{seq}.json").read_bytes()
        assert json.loads(det_a), "moderate default noise still detects people"
        gt = (a / "annotations" / f"{seq}.json").read_bytes()
        assert gt == (b / "annotations" / f"{seq}.json").read_bytes() == (none / "annotations" / f"{seq}.json").read_bytes()
        assert (a / "images" / seq / "000007.jpg").read_bytes() == (none / "images" / seq / "000007.jpg").read_bytes()
    assert not (none / "detections").exists()
    other = tmp_path / "other_seed"
    syn.generate_dataset(other, videos=1, frames=8, seed=12, size=SIZE, write_videos=False, progress=False)
    assert (other / "detections" / "000000_mpii_test.json").read_bytes() != \
        (a / "detections" / "000000_mpii_test.json").read_bytes()


def test_miss_rate_matches_the_option(truths):
    rng = syn.detection_rng(3, 0)
    noise = syn.DetectionNoise(miss=0.3, false_positives=0.0)
    people = detected = 0
    for _ in range(5):          # 5 draws per frame: about 900 person-frames, standard error of the rate ~0.015
        for truth in truths:
            _, _, source = syn.noisy_detections(truth, SIZE, noise, rng)
            people += len(truth.track_ids)
            detected += len(source)
            assert (source >= 0).all() and len(np.unique(source)) == len(source)
    miss_rate = 1 - detected / people
    assert abs(miss_rate - 0.3) < 0.06, miss_rate


def test_kept_boxes_overlap_their_person(truths):
    rng = syn.detection_rng(4, 0)
    noise = syn.DetectionNoise(jitter=0.05, miss=0.0, false_positives=0.0)
    ious = []
    for truth in truths:
        boxes, scores, source = syn.noisy_detections(truth, SIZE, noise, rng)
        assert len(boxes) == len(truth.track_ids)    # nothing missed: every person has its box
        ious.append(_iou(boxes, truth.boxes[source]))
        assert ((scores >= noise.min_score) & (scores <= 0.999)).all()
    ious = np.concatenate(ious)
    # 5% jitter of centre and log-size: IoU about 1 - 4 x 0.05 x 0.8 on average
    assert 0.75 < ious.mean() < 0.95, ious.mean()
    assert ious.min() > 0.4
    exact = syn.DetectionNoise(jitter=0.0, miss=0.0, false_positives=0.0)
    boxes, _, source = syn.noisy_detections(truths[3], SIZE, exact, rng)
    np.testing.assert_allclose(boxes, truths[3].boxes[source], atol=1e-4)


def test_false_positives_rate_and_scores(truths):
    rng = syn.detection_rng(6, 0)
    noise = syn.DetectionNoise(miss=0.0, false_positives=2.0, false_score=(0.2, 0.6))
    false_count, frames = 0, 0
    for _ in range(10):         # 400 frames: standard error of the mean count sqrt(2 / 400) ~ 0.07
        for truth in truths:
            boxes, scores, source = syn.noisy_detections(truth, SIZE, noise, rng)
            fp = source == -1
            false_count += int(fp.sum())
            frames += 1
            assert ((scores[fp] >= 0.2) & (scores[fp] <= 0.6)).all()
            assert ((boxes[:, [0, 2]] >= 0) & (boxes[:, [0, 2]] <= SIZE[0])).all()
            assert ((boxes[:, [1, 3]] >= 0) & (boxes[:, [1, 3]] <= SIZE[1])).all()
    assert abs(false_count / frames - 2.0) < 0.3, false_count / frames   # Poisson mean 2, within 4 standard errors


def test_file_reads_back_through_the_tracker_file_detector(tmp_path):
    syn.generate_dataset(tmp_path, videos=1, frames=6, seed=2, size=SIZE, write_images=False, write_videos=False,
                         progress=False, detections=syn.DetectionNoise(false_positives=1.0))
    path = tmp_path / "detections" / "000000_mpii_test.json"
    records = json.loads(path.read_text())
    assert {r["category_id"] for r in records} == {1} and {r["image_id"] for r in records} <= set(range(6))
    detector = DetectionFile(path, score_threshold=0.0)
    blank = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    for t in range(6):
        boxes = detector(Frame(t, blank))
        expected = [r for r in records if r["image_id"] == t]
        assert len(boxes) == len(expected)
        want = np.array([[x, y, x + w, y + h] for x, y, w, h in (r["bbox"] for r in expected)]).reshape(-1, 4)
        np.testing.assert_allclose(boxes.xyxy, want, atol=1e-3)
        np.testing.assert_allclose(boxes.scores, [r["score"] for r in expected], atol=1e-6)


def test_cli_options_and_bad_value(tmp_path):
    out = tmp_path / "cli"
    cmd = [sys.executable, "-m", "pose.data.synthetic", "--out", str(out), "--videos", "1", "--frames", "4",
           "--size", "160x120", "--no-videos", "--quiet", "--det-miss", "1.0", "--det-false", "0"]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "detections" / "000000_mpii_test.json").read_text()) == []   # everyone missed
    bad = subprocess.run(cmd[:-4] + ["--det-miss", "1.5"], check=False, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: ") and "miss" in bad.stderr and "Traceback" not in bad.stderr
