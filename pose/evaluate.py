"""Command line evaluation of pose predictions: MPII PCKh and COCO keypoint AP, as the official HRNet code scores them.

    python -m pose.evaluate mpii --gt gt_valid.mat --pred pred.npz [--json pckh.json]
    python -m pose.evaluate coco --gt person_keypoints_val2017.json --pred results.json [--json ap.json]

MPII predictions are ``(N, 16, 2)`` 0-based pixels in MPII joint order, in ``.npy``, ``.npz`` (key ``preds``) or
``.mat`` (key ``preds``). COCO predictions are a COCO results file (``image_id``, ``category_id``, ``keypoints``,
``score``), e.g. the ``results.json`` that validation in ``pose.train`` writes (already rescored and OKS-NMS'd).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from pose.fileio import parse_json_file, write_json_atomic
from pose.metrics import (
    MetricsError,
    coco_keypoint_eval,
    format_table,
    load_coco_gt,
    load_mpii_gt,
    mpii_pckh,
)


def load_mpii_predictions(path: str | Path) -> np.ndarray:
    """(N, 16, 2) predictions from ``.npy``, ``.npz`` or ``.mat`` (key ``preds``)."""
    path = Path(path)
    if not path.is_file():
        raise MetricsError(f"prediction file {path} does not exist; pass a .npy, .npz or .mat file of (N, 16, 2) preds")
    try:
        if path.suffix == ".npy":
            preds = np.load(path)
        elif path.suffix == ".npz":
            with np.load(path) as data:
                if "preds" not in data:
                    raise MetricsError(f"{path} has no array 'preds'; save the (N, 16, 2) array under that key")
                preds = data["preds"]
        elif path.suffix == ".mat":
            from scipy.io import loadmat

            mat = loadmat(str(path))
            if "preds" not in mat:
                raise MetricsError(f"{path} has no variable 'preds'; save the (N, 16, 2) array under that name")
            preds = mat["preds"]
        else:
            raise MetricsError(f"prediction file {path} must end in .npy, .npz or .mat")
    except (OSError, ValueError) as error:
        if isinstance(error, MetricsError):
            raise
        raise MetricsError(f"cannot read predictions from {path} ({error}); pass a numpy or MATLAB file") from None
    return np.asarray(preds, np.float64)


def load_coco_results(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise MetricsError(f"results file {path} does not exist; pass a COCO keypoint results JSON")
    results = parse_json_file(path, MetricsError, "results file", "pass a COCO keypoint results file")
    if not isinstance(results, list) or any(
            not isinstance(r, dict) or not {"image_id", "keypoints", "score"} <= set(r) for r in results):
        raise MetricsError(f"{path} must be a list of {{image_id, category_id, keypoints, score}} results")
    if not results:
        raise MetricsError(f"{path} holds no results; pass the keypoint results of a run")
    for r in results:
        r.setdefault("category_id", 1)
    return results


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pose.evaluate", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="task", required=True)
    mpii = sub.add_parser("mpii", help="MPII PCKh@0.5 (and the official Mean@0.1)")
    mpii.add_argument("--gt", required=True, help="gt_valid.mat-style ground truth")
    mpii.add_argument("--pred", required=True, help=".npy/.npz/.mat with preds (N, 16, 2), 0-based pixels, MPII "
                                                    "order (the official code's pred.mat is 1-based: subtract 1)")
    mpii.add_argument("--json", help="also write the table to this JSON file")
    coco = sub.add_parser("coco", help="COCO keypoint AP through pycocotools")
    coco.add_argument("--gt", required=True, help="COCO person-keypoints annotation file")
    coco.add_argument("--pred", required=True, help="COCO keypoint results JSON")
    coco.add_argument("--json", help="also write AP/AR to this JSON file")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.task == "mpii":
            gt = load_mpii_gt(args.gt)
            table = mpii_pckh(load_mpii_predictions(args.pred), gt)
            print(format_table(table))
        else:
            gt = load_coco_gt(args.gt)
            table = coco_keypoint_eval(gt, load_coco_results(args.pred), verbose=True)
            print(format_table(table))
        if args.json:
            write_json_atomic(args.json, table)
    except MetricsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: cannot write {error.filename}: {error.strerror}; give a file path for --json", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
