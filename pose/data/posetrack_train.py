"""PoseTrack 2017 / 2018 labelled frames as top-down training and validation people.

Layout (the official ``posetrack_data`` folder): ``ROOT/annotations/<set>/*.json`` (one file per sequence, 2017
``annolist`` or 2018 COCO-like, read by ``pose.data.posetrack``) and the images at ``ROOT/<file_name>`` as the
files name them (``images/<set>/<sequence>/<frame>.jpg``).

Only labelled frames are used. A person's box is the box of its annotated joints grown by 15% in length (width
and height, about the centre; HRNet sec. 4.3, read as in ``posetrack_common.boxes``, the same box the tracker
propagates), then fixed to the crop's aspect ratio and padded by 1.25 as for COCO. People with fewer than two annotated joints have no box and are skipped. Joints are in the
``POSETRACK18`` order (17, the ears never annotated), so a COCO model fine-tunes without changing its head.

For validation inside training, :func:`posetrack_coco_gt` turns the labelled frames into an in-memory
pycocotools ground truth (OKS AP with the layout's sigmas). That is a training-time proxy; the benchmark numbers
of PoseTrack (per-joint AP / MOTA of poseval) come from ``tracker.eval.cli``.
"""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np

from pose.data.dataset import DatasetError, PersonSample
from pose.data.posetrack import PoseTrackSequence, read_sequence_dir
from pose.keypoints import POSETRACK18
from pose.transforms import aspect_ratio_of, box_to_center_scale
from posetrack_common.boxes import PERSON_BOX_EXTEND, extend_boxes


def posetrack_annotation_dir(root: str | Path, image_set: str) -> Path:
    directory = Path(root) / "annotations" / image_set
    if not directory.is_dir():
        raise DatasetError(f"{directory} does not exist; put the PoseTrack <set> annotation files there "
                           "(posetrack_data/annotations/<set>/*.json from the PoseTrack download)")
    return directory


def read_posetrack_split(root: str | Path, image_set: str) -> list[PoseTrackSequence]:
    return read_sequence_dir(posetrack_annotation_dir(root, image_set), role="gt")


def annotated(keypoints: np.ndarray) -> np.ndarray:
    """(17,) bool: joints that are labelled (PoseTrack marks absent joints as 0, 0, 0)."""
    return np.any(keypoints != 0, axis=1)


def keypoint_box(keypoints: np.ndarray, extend: float = PERSON_BOX_EXTEND) -> np.ndarray | None:
    """``[x, y, w, h]`` of the annotated joints, grown by ``extend`` in width and height about the centre, or None
    (< 2 joints or a zero-size box)."""
    points = keypoints[annotated(keypoints), :2]
    if len(points) < 2:
        return None
    x1, y1, x2, y2 = extend_boxes(np.concatenate([points.min(axis=0), points.max(axis=0)]), extend)[0]
    if x2 <= x1 or y2 <= y1:
        return None
    return np.array([x1, y1, x2 - x1, y2 - y1])


def posetrack_people(sequences: list[PoseTrackSequence], image_root: str | Path, image_size: tuple[int, int],
                     box_extend: float = PERSON_BOX_EXTEND, box_padding: float = 1.25) -> list[PersonSample]:
    """Every boxable person of every labelled frame, joints in POSETRACK18 order."""
    image_root = Path(image_root)
    aspect = aspect_ratio_of(image_size)
    people = []
    for seq in sequences:
        for frame in seq.frames:
            if not frame.is_labeled:
                continue
            for person in frame.people:
                box = keypoint_box(person.keypoints, box_extend)
                if box is None:
                    continue
                center, scale = box_to_center_scale(box, aspect, box_padding)
                people.append(PersonSample(
                    image=str(image_root / frame.file_name), center=center, scale=scale,
                    joints=person.keypoints[:, :2].copy(), joints_vis=annotated(person.keypoints).astype(np.float64),
                    score=1.0, image_id=int(frame.image_id),
                ))
    return people


def posetrack_coco_gt(sequences: list[PoseTrackSequence], box_extend: float = PERSON_BOX_EXTEND):
    """A pycocotools ``COCO`` of the labelled frames (keypoints ``v = 2`` where annotated, area of the keypoint box)."""
    from pycocotools.coco import COCO

    images, annotations = [], []
    for seq in sequences:
        for frame in seq.frames:
            if not frame.is_labeled:
                continue
            images.append({"id": int(frame.image_id), "file_name": frame.file_name})
            for person in frame.people:
                box = keypoint_box(person.keypoints, box_extend)
                if box is None:
                    continue
                vis = annotated(person.keypoints)
                kpts = np.concatenate([person.keypoints[:, :2], 2.0 * vis[:, None]], axis=1)
                annotations.append({
                    "id": len(annotations) + 1, "image_id": int(frame.image_id), "category_id": 1, "iscrowd": 0,
                    "keypoints": [float(v) for v in kpts.reshape(-1)], "num_keypoints": int(vis.sum()),
                    "bbox": [float(v) for v in box], "area": float(box[2] * box[3]),
                })
    coco = COCO()
    coco.dataset = {"images": images, "annotations": annotations,
                    "categories": [{"id": 1, "name": "person", "keypoints": list(POSETRACK18.joints)}]}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco
