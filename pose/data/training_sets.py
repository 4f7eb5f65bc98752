"""The training people and validation data of every dataset a pose config can name (``data.dataset``).

``build_data(cfg)`` looks the dataset up in ``DATASETS``, one builder per name; each returns the training
people (:class:`pose.data.dataset.PersonSample`) and a :class:`Validation` saying how predictions are scored.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pose.config import Config, ConfigError
from pose.data.dataset import PersonSample
from pose.metrics import MPIIGroundTruth, load_mpii_gt


@dataclass
class Validation:
    """Validation people and how to score their predictions."""

    samples: list[PersonSample]
    kind: str                                 # "coco" (OKS AP) | "mpii" (PCKh) | "accuracy" (heatmap PCK only)
    coco_gt: object = None                    # pycocotools COCO for kind "coco"
    mpii_gt: MPIIGroundTruth | None = None    # for kind "mpii"
    gt_boxes: bool = True                     # heatmap accuracy means something only around ground-truth boxes


def _image_dir_for(coco, root: Path) -> Path:
    """ROOT or ROOT/images, whichever holds the first image the annotation names."""
    if coco.imgs:
        first = next(iter(coco.imgs.values()))["file_name"]
        for candidate in (root, root / "images"):
            if (candidate / first).is_file():
                return candidate
    return root


def _coco_like(cfg: Config, train_coco, train_images: Path, val_coco, val_images: Path
               ) -> tuple[list[PersonSample], Validation]:
    """COCO keypoint files: ground-truth people for training; for validation ground-truth boxes, or the
    detections of ``data.detection_file`` unless ``data.use_gt_bbox``."""
    from pose.data.coco import coco_detected_people, coco_gt_people

    data, model = cfg.data, cfg.model
    train = coco_gt_people(train_coco, train_images, model.image_size, model.num_joints, data.box_padding)
    if data.use_gt_bbox or not data.detection_file:
        val = coco_gt_people(val_coco, val_images, model.image_size, model.num_joints, data.box_padding)
        gt_boxes = True
    else:
        val = coco_detected_people(val_coco, data.detection_file, val_images, model.image_size,
                                   model.num_joints, cfg.test.image_thre, data.box_padding)
        gt_boxes = False
    return train, Validation(val, "coco", coco_gt=val_coco, gt_boxes=gt_boxes)


def coco_data(cfg: Config) -> tuple[list[PersonSample], Validation]:
    """COCO 2017: ``ROOT/annotations/person_keypoints_<set>.json`` and ``ROOT/images/<set>/``."""
    from pose.data.coco import coco_paths, load_coco

    root = Path(cfg.data.root)
    train_ann, train_images = coco_paths(root, cfg.data.train_set)
    val_ann, val_images = coco_paths(root, cfg.data.val_set)
    return _coco_like(cfg, load_coco(train_ann), train_images, load_coco(val_ann), val_images)


def synthetic_data(cfg: Config) -> tuple[list[PersonSample], Validation]:
    """The synthetic generator's layout: ``ROOT/coco/<set>.json`` with file names relative to ROOT (or
    ROOT/images)."""
    from pose.data.coco import load_coco

    root = Path(cfg.data.root)
    train_ann = root / "coco" / f"{cfg.data.train_set}.json"
    val_ann = root / "coco" / f"{cfg.data.val_set}.json"
    train_coco = load_coco(train_ann)
    val_coco = train_coco if val_ann == train_ann else load_coco(val_ann)
    return _coco_like(cfg, train_coco, _image_dir_for(train_coco, root), val_coco, _image_dir_for(val_coco, root))


def mpii_data(cfg: Config) -> tuple[list[PersonSample], Validation]:
    """MPII: PCKh validation when the set's ``gt_<set>.mat`` is there, heatmap accuracy otherwise."""
    from pose.data.mpii import mpii_paths, mpii_people

    data = cfg.data
    root = Path(data.root)
    train_ann, images, _ = mpii_paths(root, data.train_set)
    val_ann, _, gt_mat = mpii_paths(root, data.val_set)
    train = mpii_people(train_ann, images, data.box_padding)
    val = mpii_people(val_ann, images, data.box_padding)
    if gt_mat.is_file():
        return train, Validation(val, "mpii", mpii_gt=load_mpii_gt(gt_mat))
    return train, Validation(val, "accuracy")


def posetrack_data(cfg: Config) -> tuple[list[PersonSample], Validation]:
    """PoseTrack 2017 / 2018 sequence files, validated with OKS AP over the labelled frames."""
    from pose.data.posetrack_train import posetrack_coco_gt, posetrack_people, read_posetrack_split

    data, model = cfg.data, cfg.model
    root = Path(data.root)
    extend = data.keypoint_box_extend
    train_seqs = read_posetrack_split(root, data.train_set)
    val_seqs = read_posetrack_split(root, data.val_set)
    train = posetrack_people(train_seqs, root, model.image_size, extend, data.box_padding)
    val = posetrack_people(val_seqs, root, model.image_size, extend, data.box_padding)
    return train, Validation(val, "coco", coco_gt=posetrack_coco_gt(val_seqs, extend))


# data.dataset -> the builder of its training people and validation data.
DATASETS: dict[str, Callable[[Config], tuple[list[PersonSample], Validation]]] = {
    "coco": coco_data,
    "mpii": mpii_data,
    "posetrack17": posetrack_data,
    "posetrack18": posetrack_data,
    "synthetic": synthetic_data,
}


def build_data(cfg: Config) -> tuple[list[PersonSample], Validation]:
    """Training people and validation data of the config's dataset."""
    builder = DATASETS.get(cfg.data.dataset)
    if builder is None:
        raise ConfigError(f"data.dataset must be one of {', '.join(sorted(DATASETS))}, got {cfg.data.dataset!r}")
    return builder(cfg)
