"""Detector-like person boxes made from the ground truth: jittered boxes, some people missed, some false boxes,
noisy scores, from a random stream of their own."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose.data.synthetic.scene import FrameTruth, SyntheticDataError, round2


@dataclass(frozen=True)
class DetectionNoise:
    """How detections are made from the ground-truth boxes (all defaults moderate; zeros give the exact boxes).

    jitter: standard deviation of the box centre shift, as a fraction of the box width / height, and of the log
    of the size change; miss: probability that a person is not detected in a frame; false_positives: mean number
    of false boxes per frame (Poisson), person-shaped, anywhere in the image, scoring uniformly in
    ``false_score``; score: mean score of a true detection, lowered by ``occlusion_penalty`` x (fraction of the
    person's joints not visible); score_noise: standard deviation of a true detection's score. True scores are
    clipped to [``min_score``, 0.999]; ``min_score`` above the tracker's box threshold (0.5) means a kept person
    is never dropped for its score alone.
    """

    jitter: float = 0.05
    miss: float = 0.1
    false_positives: float = 0.3
    false_score: tuple[float, float] = (0.2, 0.65)
    score: float = 0.92
    score_noise: float = 0.04
    occlusion_penalty: float = 0.2
    min_score: float = 0.55


def detection_rng(seed: int, video_index: int) -> np.random.Generator:
    """The random generator of one video's detections: a stream apart from the scene's (``video_rng``)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(video_index), 1]))


def noisy_detections(truth: FrameTruth, size: tuple[int, int], noise: DetectionNoise,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Detector-like boxes of one frame made from its ground truth.

    Returns boxes (M, 4) float32 xyxy clipped to the image, scores (M,) float32, and source (M,) int64: the index
    into ``truth.track_ids`` of the person a box comes from, -1 for a false positive. Draws the same numbers from
    ``rng`` whatever the noise values, so changing one option does not reshuffle the others.
    """
    width, height = size
    n = len(truth.track_ids)
    boxes = truth.boxes.astype(np.float64).reshape(n, 4)
    w = np.maximum(boxes[:, 2] - boxes[:, 0], 1.0)
    h = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
    shift = rng.normal(0.0, 1.0, (n, 2)) * noise.jitter
    grow = np.exp(rng.normal(0.0, 1.0, (n, 2)) * noise.jitter)
    cx = (boxes[:, 0] + boxes[:, 2]) / 2 + shift[:, 0] * w
    cy = (boxes[:, 1] + boxes[:, 3]) / 2 + shift[:, 1] * h
    nw, nh = w * grow[:, 0], h * grow[:, 1]
    jittered = np.stack([cx - nw / 2, cy - nh / 2, cx + nw / 2, cy + nh / 2], axis=1)
    hidden = 1.0 - (truth.visibility == 2).mean(axis=1) if n else np.zeros(0)
    scores = noise.score - noise.occlusion_penalty * hidden + rng.normal(0.0, 1.0, n) * noise.score_noise
    scores = np.clip(scores, noise.min_score, 0.999)
    kept = rng.random(n) >= noise.miss

    count = int(rng.poisson(noise.false_positives))
    fh = rng.uniform(0.2, 0.7, count) * height
    fw = fh * rng.uniform(0.3, 0.55, count)
    fx = rng.uniform(0.0, 1.0, count) * np.maximum(width - fw, 1.0)
    fy = rng.uniform(0.0, 1.0, count) * np.maximum(height - fh, 1.0)
    false_boxes = np.stack([fx, fy, fx + fw, fy + fh], axis=1).reshape(count, 4)
    false_scores = rng.uniform(noise.false_score[0], noise.false_score[1], count)

    out = np.concatenate([jittered[kept], false_boxes])
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, width)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, height)
    source = np.concatenate([np.flatnonzero(kept), np.full(count, -1)]).astype(np.int64)
    keep = (out[:, 2] - out[:, 0] >= 1) & (out[:, 3] - out[:, 1] >= 1)      # a box pushed off the image is gone
    return (out[keep].astype(np.float32), np.concatenate([scores[kept], false_scores])[keep].astype(np.float32),
            source[keep])


def detection_records(frame: int, boxes: np.ndarray, scores: np.ndarray) -> list[dict]:
    """COCO results entries of one frame (``image_id`` = the 0-based frame index), as the ``file:`` detector reads."""
    return [{"image_id": int(frame), "category_id": 1, "bbox": round2([x1, y1, x2 - x1, y2 - y1]),
             "score": round(float(s), 4)} for (x1, y1, x2, y2), s in zip(boxes, scores)]


MAX_FALSE_POSITIVES = 100  # mean false boxes per frame; more only fills memory


def detections_by_image_id(data_dir: Path, gt_dir: Path) -> list[dict]:
    """The per-video detection files of a generated set (``data_dir/detections/<seq>.json``, keyed by frame index)
    as one COCO results list keyed by the image ids of the ground truth in ``gt_dir`` (any PoseTrack format): what
    ``--detector file:FILE`` takes in submission mode."""
    from pose.data.posetrack import read_sequence

    merged = []
    for gt_file in sorted(Path(gt_dir).glob("*.json")):
        ids = [frame.image_id for frame in read_sequence(gt_file, role="gt").frames]
        records = json.loads((Path(data_dir) / "detections" / gt_file.name).read_text(encoding="utf-8"))
        merged += [{**record, "image_id": ids[record["image_id"]]} for record in records]
    return merged


def check_noise(noise: DetectionNoise) -> None:
    for name in ("jitter", "false_positives", "score_noise", "occlusion_penalty"):
        value = getattr(noise, name)
        if not (np.isfinite(value) and value >= 0):
            raise SyntheticDataError(f"detection noise {name} must be a number >= 0, got {value!r}")
    if not 0.0 <= noise.miss <= 1.0:
        raise SyntheticDataError(f"detection miss probability must be in [0, 1], got {noise.miss!r}")
    if noise.false_positives > MAX_FALSE_POSITIVES:
        raise SyntheticDataError(f"detection false_positives is a mean per frame and at most {MAX_FALSE_POSITIVES}, "
                                 f"got {noise.false_positives!r}")
    lo, hi = noise.false_score
    if not 0.0 <= lo <= hi <= 1.0:
        raise SyntheticDataError(f"false_score must be (low, high) with 0 <= low <= high <= 1, got {noise.false_score!r}")
