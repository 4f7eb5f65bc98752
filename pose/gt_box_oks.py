"""How well a pose estimator does on its own: poses from the ground-truth person boxes, scored per person by OKS.

``ground_truth_box_oks(estimator, annotation_file, image_dir)`` runs the estimator on every annotated person
(with at least one labelled joint) of a COCO person-keypoints file, through the estimator's own crops, from the
person's ground-truth box, and returns each person's object keypoint similarity against its ground truth as
pycocotools computes it (``COCOeval.computeOks``: per-joint sigmas, object area = the annotation's ``area``,
labelled joints only). Detection and tracking play no part, so this isolates the pose network, its crop geometry
and its decoding.
"""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pose.metrics import load_coco_gt


@dataclass(frozen=True)
class PersonOks:
    """One annotated person: ``image_id``, annotation ``id``, ``oks`` against the ground truth, ``labelled`` joints."""

    image_id: int
    id: int
    oks: float
    labelled: int


def ground_truth_box_oks(estimator, annotation_file: str | Path, image_dir: str | Path) -> list[PersonOks]:
    """Per-person OKS of ``estimator(image_rgb, boxes_xyxy) -> (keypoints (N, 17, 2), scores)`` on the people of
    a COCO keypoints file (boxes = their ground-truth ``bbox``), in annotation order per image."""
    from pycocotools.cocoeval import COCOeval

    coco = load_coco_gt(annotation_file)
    people = []
    for image_id in sorted(coco.getImgIds()):
        annotations = [a for a in coco.loadAnns(coco.getAnnIds(imgIds=image_id, iscrowd=False))
                       if a.get("num_keypoints", 0) > 0]
        if not annotations:
            continue
        path = Path(image_dir) / coco.loadImgs(image_id)[0]["file_name"]
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f"cannot read the image {path} of {annotation_file}")
        boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in annotations)])
        keypoints, scores = estimator(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), boxes)
        # One result per person, all scored 1: computeOks keeps their order (stable sort), so row i is person i.
        results = [{"image_id": image_id, "category_id": 1, "score": 1.0,
                    "keypoints": np.concatenate([kp, sc[:, None]], axis=1).ravel().tolist()}
                   for kp, sc in zip(keypoints.astype(np.float64), scores.astype(np.float64))]
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
            evaluator = COCOeval(coco, coco.loadRes(results), iouType="keypoints")
        evaluator.params.imgIds = [image_id]
        evaluator.params.maxDets = [len(results)]
        evaluator._prepare()
        similarity = np.asarray(evaluator.computeOks(image_id, 1))        # (results, annotations of the image)
        gt_ids = [g["id"] for g in evaluator._gts[image_id, 1]]
        for row, annotation in enumerate(annotations):
            people.append(PersonOks(image_id, annotation["id"], float(similarity[row, gt_ids.index(annotation["id"])]),
                                    int(annotation["num_keypoints"])))
    return people
