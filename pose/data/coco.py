"""COCO person keypoints for top-down training and validation, read through pycocotools.

Official layout (HRNet's ``data/coco``): ``ROOT/annotations/person_keypoints_<set>.json`` and images in
``ROOT/images/<set>/``; validation boxes from a person-detection file in COCO results format
(``[{"image_id", "category_id", "bbox": [x, y, w, h], "score"}]``, e.g. ``COCO_val2017_detections_AP_H_56_person.json``).

Training people follow the official filter: the box is clipped to the image and must have positive area, the
category must be person, and at least one keypoint must be labelled; visibility 2 counts as 1.
"""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np

from pose.data.dataset import DatasetError, PersonSample, require_file
from pose.fileio import parse_json_file
from pose.transforms import aspect_ratio_of, box_to_center_scale

PERSON_CATEGORY = 1


def coco_paths(root: str | Path, image_set: str) -> tuple[Path, Path]:
    """(annotation json, image folder) of a split in the official layout."""
    root = Path(root)
    return root / "annotations" / f"person_keypoints_{image_set}.json", root / "images" / image_set


def load_coco(ann_file: str | Path):
    """pycocotools ``COCO`` of an annotation file, with a clear error when it is missing or malformed."""
    from pycocotools.coco import COCO

    path = require_file(ann_file, "a COCO person-keypoints annotation file (person_keypoints_<set>.json from "
                                  "cocodataset.org, or the synthetic generator's coco/person_keypoints.json)")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return COCO(str(path))
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path} is not a COCO annotation file ({error}); give person_keypoints_<set>.json") from None


def _image_path(coco, image_id: int, image_dir: Path) -> str:
    return str(image_dir / coco.imgs[image_id]["file_name"])


def coco_gt_people(coco, image_dir: str | Path, image_size: tuple[int, int], num_joints: int = 17,
                   box_padding: float = 1.25) -> list[PersonSample]:
    """Every annotated person of a COCO object (official ``_load_coco_keypoint_annotation_kernal``)."""
    image_dir = Path(image_dir)
    aspect = aspect_ratio_of(image_size)
    people = []
    for image_id in sorted(coco.imgs):
        info = coco.imgs[image_id]
        width, height = info["width"], info["height"]
        for obj in coco.loadAnns(coco.getAnnIds(imgIds=image_id, iscrowd=False)):  # official: non-crowd only
            x, y, w, h = obj["bbox"]
            x1, y1 = max(0, x), max(0, y)
            x2 = min(width - 1, x1 + max(0, w - 1))
            y2 = min(height - 1, y1 + max(0, h - 1))
            if not (obj.get("area", 0) > 0 and x2 >= x1 and y2 >= y1):
                continue
            if obj["category_id"] != PERSON_CATEGORY or max(obj.get("keypoints") or [0]) == 0:
                continue
            kpts = np.asarray(obj["keypoints"], np.float64).reshape(-1, 3)
            if len(kpts) != num_joints:
                raise DatasetError(f"annotation {obj.get('id')} has {len(kpts)} keypoints but the model predicts "
                                   f"{num_joints}; use a config whose model.num_joints matches the dataset")
            center, scale = box_to_center_scale(np.array([x1, y1, x2 - x1, y2 - y1]), aspect, box_padding)
            people.append(PersonSample(
                image=_image_path(coco, image_id, image_dir), center=center, scale=scale,
                joints=kpts[:, :2].copy(), joints_vis=np.minimum(kpts[:, 2], 1.0), score=1.0, image_id=image_id,
            ))
    return people


def coco_detected_people(coco, detection_file: str | Path, image_dir: str | Path, image_size: tuple[int, int],
                         num_joints: int = 17, image_thre: float = 0.0, box_padding: float = 1.25
                         ) -> list[PersonSample]:
    """People from a detection results file (official ``_load_coco_person_detection_results``).

    Boxes of other categories and with ``score < image_thre`` are dropped; joints are unknown (zeros).
    """
    path = require_file(detection_file, "a person-detection results file in COCO format ([{image_id, "
                                        "category_id, bbox, score}], e.g. COCO_val2017_detections_AP_H_56_person.json)")
    detections = parse_json_file(path, DatasetError, "detection results file",
                                 "give a COCO-format detection results file")
    if not isinstance(detections, list):
        raise DatasetError(f"{path} must hold a list of detections [{{image_id, category_id, bbox, score}}]")
    image_dir = Path(image_dir)
    aspect = aspect_ratio_of(image_size)
    people = []
    for det in detections:
        if det.get("category_id") != PERSON_CATEGORY or det["score"] < image_thre:
            continue
        if det["image_id"] not in coco.imgs:
            raise DatasetError(f"{path} has a detection for image {det['image_id']}, which is not in the "
                               "annotation file; use the detection file of the same split")
        center, scale = box_to_center_scale(np.asarray(det["bbox"], np.float64), aspect, box_padding)
        people.append(PersonSample(
            image=_image_path(coco, det["image_id"], image_dir), center=center, scale=scale,
            joints=np.zeros((num_joints, 2)), joints_vis=np.ones(num_joints), score=float(det["score"]),
            image_id=int(det["image_id"]),
        ))
    return people
