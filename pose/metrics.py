"""Pose metrics with the official HRNet semantics: training accuracy (PCK on heatmaps), MPII PCKh, COCO AP.

- ``heatmap_accuracy``: ``core/evaluate.py accuracy`` of the official code, the PCK@0.5 printed during training
  (arg-max of prediction and target, distances normalised by a tenth of the heatmap size).
- ``mpii_pckh``: ``MPIIDataset.evaluate``: head size 0.6 x head-box diagonal, ``error / head size <= 0.5``,
  pelvis and thorax left out of the mean, and ``Mean@0.1`` taken at threshold 0.11 (the original's off-by-one).
- ``coco_rescore_nms`` + ``coco_keypoint_eval``: ``COCODataset.evaluate``: each person's score becomes the mean
  of its joint confidences above ``in_vis_thre`` times the box score, OKS-NMS per image, then pycocotools.
"""
from __future__ import annotations

import contextlib
import io
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose.keypoints import MPII16_JOINTS
from pose.similarity import oks_nms, soft_oks_nms


class MetricsError(ValueError):
    """Ground truth or predictions that cannot be evaluated; the message names the file and the fix."""


# --------------------------------------------------------------------------------------------------------------
# Training accuracy
# --------------------------------------------------------------------------------------------------------------

def heatmap_accuracy(output: np.ndarray, target: np.ndarray, thr: float = 0.5) -> tuple[np.ndarray, float, int]:
    """PCK between the arg-max of predicted and target heatmaps (B, K, H, W), official semantics.

    Returns (acc (K+1,) with acc[0] the average and acc[1:] per joint (-1 where no joint counts),
    average accuracy, number of joints that counted). A target arg-max with x <= 1 or y <= 1 is ignored.
    """
    from pose.decode import get_max_preds  # (imports torch; kept out of the CLI's start-up)

    b, k, h, w = output.shape
    pred, _ = get_max_preds(output)
    gt, _ = get_max_preds(target)
    # (h, w) / 10 for (x, y): the official normaliser (x divided by h / 10; equal for square heatmaps).
    norm = np.array([h, w], np.float64) / 10
    valid = (gt[..., 0] > 1) & (gt[..., 1] > 1)                        # (B, K)
    dists = np.linalg.norm(pred / norm - gt / norm, axis=2)            # (B, K)
    acc = np.zeros(k + 1)
    total, count = 0.0, 0
    for j in range(k):
        counted = valid[:, j]
        if counted.any():
            acc[j + 1] = float(np.mean(dists[counted, j] < thr))
            total += acc[j + 1]
            count += 1
        else:
            acc[j + 1] = -1
    avg = total / count if count else 0.0
    if count:
        acc[0] = avg
    return acc, avg, count


# --------------------------------------------------------------------------------------------------------------
# MPII PCKh
# --------------------------------------------------------------------------------------------------------------

PCKH_NAMES = ("Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean", "Mean@0.1")
PCKH_HEAD_FACTOR = 0.6   # official SC_BIAS: head size = 0.6 x head-box diagonal
PCKH_THRESHOLD = 0.5


@dataclass(frozen=True)
class MPIIGroundTruth:
    """The fields of the official ``gt_valid.mat`` (MATLAB 1-based pixel coordinates)."""

    pos_gt_src: np.ndarray      # (16, 2, N)
    jnt_missing: np.ndarray     # (16, N), 1 = not labelled
    headboxes_src: np.ndarray   # (2, 2, N): [corner][x/y][person]
    joint_names: tuple[str, ...] = MPII16_JOINTS

    @property
    def num_people(self) -> int:
        return self.pos_gt_src.shape[2]


def load_mpii_gt(path: str | Path) -> MPIIGroundTruth:
    """Read a ``gt_valid.mat``-style file (``pos_gt_src``, ``jnt_missing``, ``headboxes_src``, ``dataset_joints``)."""
    from scipy.io import loadmat

    path = Path(path)
    if not path.is_file():
        raise MetricsError(f"MPII ground truth {path} does not exist; pass the official annot/gt_valid.mat")
    try:
        mat = loadmat(str(path))
    except Exception as error:  # scipy raises several types for non-MAT files
        raise MetricsError(f"{path} is not a readable .mat file ({error}); pass the official gt_valid.mat") from None
    missing = [k for k in ("pos_gt_src", "jnt_missing", "headboxes_src") if k not in mat]
    if missing:
        raise MetricsError(f"{path} lacks {', '.join(missing)}; pass a gt_valid.mat-style MPII ground-truth file")
    names = MPII16_JOINTS
    if "dataset_joints" in mat:
        # MATLAB cell array of joint names, in the order of pos_gt_src's first axis.
        raw = [str(np.asarray(c).ravel()[0]) for c in np.asarray(mat["dataset_joints"]).ravel()]
        official = {"rank": "right_ankle", "rkne": "right_knee", "rhip": "right_hip", "lhip": "left_hip",
                    "lkne": "left_knee", "lank": "left_ankle", "pelv": "pelvis", "thor": "thorax",
                    "neck": "upper_neck", "head": "head_top", "rwri": "right_wrist", "relb": "right_elbow",
                    "rsho": "right_shoulder", "lsho": "left_shoulder", "lelb": "left_elbow", "lwri": "left_wrist"}
        names = tuple(official.get(n, n) for n in raw)
    return MPIIGroundTruth(np.asarray(mat["pos_gt_src"], np.float64), np.asarray(mat["jnt_missing"]),
                           np.asarray(mat["headboxes_src"], np.float64), names)


def mpii_pckh(preds: np.ndarray, gt: MPIIGroundTruth) -> dict[str, float]:
    """PCKh table of predictions (N, 16, 2), 0-based pixels, in the ground truth's joint order.

    Returns {Head, Shoulder, Elbow, Wrist, Hip, Knee, Ankle, Mean, Mean@0.1} in percent.
    """
    preds = np.asarray(preds, np.float64)
    if preds.ndim != 3 or preds.shape[1:] != (16, 2) or preds.shape[0] != gt.num_people:
        raise MetricsError(f"MPII predictions must have shape ({gt.num_people}, 16, 2) to match the ground truth, "
                           f"got {preds.shape}")
    pos_pred = np.transpose(preds + 1.0, (1, 2, 0))        # back to 1-based, (16, 2, N)
    visible = 1 - gt.jnt_missing.astype(np.int64)           # (16, N)
    err = np.linalg.norm(pos_pred - gt.pos_gt_src, axis=1)  # (16, N)
    head_size = np.linalg.norm(gt.headboxes_src[1] - gt.headboxes_src[0], axis=0) * PCKH_HEAD_FACTOR  # (N,)
    scaled = err / head_size[None, :] * visible
    count = visible.sum(axis=1)                              # (16,)

    def pck_at(threshold: float) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return 100.0 * ((scaled <= threshold) * visible).sum(axis=1) / count

    pckh = pck_at(PCKH_THRESHOLD)
    # Official: np.arange(0, 0.51, 0.01)[11] = 0.11 is what its "PCKh@0.1" reports.
    pck_011 = pck_at(np.arange(0, PCKH_THRESHOLD + 0.01, 0.01)[11])
    idx = {name: gt.joint_names.index(name) for name in gt.joint_names}
    trunk = [idx["pelvis"], idx["thorax"]]                   # masked out of the mean, as the official code does
    keep = np.ones(16, bool)
    keep[trunk] = False
    ratio = np.where(keep, count, 0) / count[keep].sum()

    def pair(name: str) -> float:
        return float(0.5 * (pckh[idx["left_" + name]] + pckh[idx["right_" + name]]))

    return {
        "Head": float(pckh[idx["head_top"]]),
        "Shoulder": pair("shoulder"), "Elbow": pair("elbow"), "Wrist": pair("wrist"),
        "Hip": pair("hip"), "Knee": pair("knee"), "Ankle": pair("ankle"),
        "Mean": float(np.sum(np.where(keep, pckh, 0) * ratio)),
        "Mean@0.1": float(np.sum(np.where(keep, pck_011, 0) * ratio)),
    }


def format_table(values: dict[str, float]) -> str:
    """Two-line ``| name | ... |`` table as the official code prints it."""
    names = " | ".join(values)
    numbers = " | ".join(f"{v:.3f}" for v in values.values())
    return f"| {names} |\n|{'---|' * len(values)}\n| {numbers} |"


# --------------------------------------------------------------------------------------------------------------
# COCO keypoint AP
# --------------------------------------------------------------------------------------------------------------

COCO_STATS_NAMES = ("AP", "AP .5", "AP .75", "AP (M)", "AP (L)", "AR", "AR .5", "AR .75", "AR (M)", "AR (L)")


def coco_rescore_nms(
    people: list[dict], in_vis_thre: float = 0.2, oks_thre: float = 0.9, sigmas: np.ndarray | None = None,
    soft: bool = False,
) -> list[dict]:
    """Official rescoring and per-image OKS-NMS of top-down predictions.

    people: dicts with ``image_id``, ``keypoints`` (K, 3) (x, y, confidence), ``area`` (box area in pixels,
    ``prod(scale * 200)``), ``score`` (box score). Each score becomes mean(confidences > in_vis_thre) x box score;
    returns the kept people (new dicts), image by image.
    """
    by_image: dict[int, list[dict]] = defaultdict(list)
    for person in people:
        kpts = np.asarray(person["keypoints"], np.float64)
        conf = kpts[:, 2]
        above = conf > in_vis_thre
        kpt_score = float(conf[above].mean()) if above.any() else 0.0
        by_image[person["image_id"]].append({**person, "keypoints": kpts, "score": kpt_score * person["score"]})

    kept = []
    for image_id, group in by_image.items():
        nms = soft_oks_nms if soft else oks_nms
        keep = nms(np.stack([p["keypoints"] for p in group]), np.array([p["score"] for p in group]),
                   np.array([p["area"] for p in group], np.float64), oks_thre, sigmas=sigmas)
        kept.extend(group[i] for i in keep)
    return kept


def coco_results(people: list[dict], category_id: int = 1) -> list[dict]:
    """COCO results-format dicts (``image_id``, ``category_id``, flat ``keypoints``, ``score``)."""
    return [{"image_id": int(p["image_id"]), "category_id": category_id,
             "keypoints": [float(v) for v in np.asarray(p["keypoints"], np.float64).reshape(-1)],
             "score": float(p["score"])} for p in people]


def load_coco_gt(path: str | Path, quiet: bool = True):
    """pycocotools ``COCO`` object for a person-keypoints annotation file, with a clear error when unusable."""
    from pycocotools.coco import COCO

    path = Path(path)
    if not path.is_file():
        raise MetricsError(f"COCO annotation file {path} does not exist; pass person_keypoints_<set>.json")
    try:
        with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
            return COCO(str(path))
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise MetricsError(f"{path} is not a COCO annotation file ({error}); pass person_keypoints_<set>.json") from None


def check_coco_results(coco_gt, results: list[dict]) -> None:
    """Results pycocotools would assert on or mis-read: unknown image ids, keypoints that are not 3 x K numbers."""
    known = set(coco_gt.getImgIds())
    num_joints = len(coco_gt.loadCats(coco_gt.getCatIds())[0].get("keypoints", [])) if coco_gt.getCatIds() else 0
    for number, result in enumerate(results):
        if result["image_id"] not in known:
            raise MetricsError(f"result {number} has image_id {result['image_id']!r}, which the ground truth does not "
                               f"have; evaluate results against the annotation file they were made for")
        keypoints = result["keypoints"]
        if (not isinstance(keypoints, list) or (num_joints and len(keypoints) != 3 * num_joints)
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in keypoints)):
            raise MetricsError(f"result {number} needs 'keypoints' as {3 * num_joints or '3 x K'} numbers "
                               f"(x, y, score per joint)")


def coco_keypoint_eval(coco_gt, results: list[dict], sigmas: np.ndarray | None = None,
                       verbose: bool = True) -> dict[str, float]:
    """COCO keypoint AP/AR of results-format dicts against a pycocotools ``COCO`` (or an annotation path).

    Returns {AP, AP .5, AP .75, AP (M), AP (L), AR, AR .5, AR .75, AR (M), AR (L)}.
    """
    from pycocotools.cocoeval import COCOeval

    if not hasattr(coco_gt, "loadRes"):
        coco_gt = load_coco_gt(coco_gt)
    if not results:
        return {name: 0.0 for name in COCO_STATS_NAMES}
    check_coco_results(coco_gt, results)
    sink = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO())
    with sink:
        coco_dt = coco_gt.loadRes(results)
        evaluator = COCOeval(coco_gt, coco_dt, "keypoints")
        evaluator.params.useSegm = None
        if sigmas is not None:
            evaluator.params.kpt_oks_sigmas = np.asarray(sigmas, np.float64)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {name: float(v) for name, v in zip(COCO_STATS_NAMES, evaluator.stats)}
