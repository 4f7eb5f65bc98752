"""The top-down training/validation dataset shared by every source: one person -> crop, augment, targets.

Readers (``pose.data.coco``, ``mpii``, ``posetrack_train``) turn their annotation files into a list of
:class:`PersonSample`; :class:`TopDownDataset` does what the official ``JointsDataset.__getitem__`` does with them:
read the image, augment (half-body, scale, rotation, flip; ``pose.transforms.augment_and_crop``), crop with an
affine warp, normalise with the ImageNet mean/std and make Gaussian heatmap targets.

Randomness is per sample and per epoch: sample ``i`` of epoch ``e`` draws from ``np.random.default_rng((seed, e,
i))``, so the augmentation of a sample does not depend on the worker that loads it or on what ran before, which is
what makes an interrupted and resumed training run identical to an uninterrupted one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from pose.config import DataConfig, ModelConfig
from pose.keypoints import KeypointLayout
from pose.targets import COCO_JOINTS_WEIGHT, generate_target
from pose.transforms import augment_and_crop, upper_body_ids

# torchvision ImageNet normalisation used by the official training and test scripts.
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


class DatasetError(ValueError):
    """A dataset that cannot be read: missing or malformed files; the message names the path and the fix."""


@dataclass
class PersonSample:
    """One person to crop: where the image is, the person box as center/scale, and the labelled joints."""

    image: str                  # image file path
    center: np.ndarray          # (2,) box centre, image pixels
    scale: np.ndarray           # (2,) box [w, h] / 200, aspect-fixed and padded (official convention)
    joints: np.ndarray          # (K, 2) joint positions, image pixels, 0-based
    joints_vis: np.ndarray      # (K,) 1 = labelled, 0 = not
    score: float = 1.0          # person-box score (1 for ground-truth boxes)
    image_id: int = 0           # id of the image in the evaluation ground truth (COCO image id)


def require_file(path: str | Path, what: str) -> Path:
    """``path`` if it is a file, else a :class:`DatasetError` naming it and what belongs there."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path} does not exist; put {what} there")
    return path


def read_image(path: str | Path, rgb: bool = True) -> np.ndarray:
    """(H, W, 3) uint8 image, RGB when ``rgb`` (the official configs use COLOR_RGB: true), else BGR."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None:
        raise DatasetError(f"cannot read image {path}; check that the dataset's images are in place")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if rgb else image


def normalize_image(image: np.ndarray) -> torch.Tensor:
    """(h, w, 3) uint8 -> (3, h, w) float32, ``(x / 255 - mean) / std`` (torchvision ToTensor + Normalize)."""
    x = (image.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))


class TopDownDataset(torch.utils.data.Dataset):
    """Crops and targets of a list of people; ``train=True`` adds the official augmentation.

    Items are dicts: ``image`` (3, h, w) float32 normalised crop, ``target`` (K, H/4, W/4) float32 heatmaps,
    ``target_weight`` (K, 1) float32, and per-sample ``center`` (2,), ``scale`` (2,), ``score``, ``image_id`` and
    ``index`` for turning predictions back into image coordinates.
    """

    def __init__(self, samples: list[PersonSample], model_cfg: ModelConfig, data_cfg: DataConfig,
                 layout: KeypointLayout, train: bool, seed: int = 0, use_joints_weight: bool = False):
        self.samples = samples
        self.model_cfg = model_cfg
        self.data_cfg = data_cfg
        self.layout = layout
        self.train = train
        self.seed = seed
        self.epoch = 0
        self.upper_ids = upper_body_ids(layout.joints)
        self.joints_weight = None
        if use_joints_weight:
            if layout.num_joints != len(COCO_JOINTS_WEIGHT):
                raise DatasetError(f"train.use_different_joints_weight needs 17 joints, the layout has "
                                   f"{layout.num_joints}; set it to false")
            self.joints_weight = np.array(COCO_JOINTS_WEIGHT, np.float32)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch's augmentation draws (call before iterating a DataLoader over this dataset)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        sample = self.samples[index]
        cfg = self.data_cfg
        image = read_image(sample.image, cfg.color_rgb)
        rng = np.random.default_rng((self.seed, self.epoch, index))
        out = augment_and_crop(
            rng, image, sample.joints, sample.joints_vis, sample.center, sample.scale, self.model_cfg.image_size,
            flip_pairs=self.layout.flip_pairs, upper_ids=self.upper_ids, scale_factor=cfg.scale_factor,
            rot_factor=cfg.rot_factor, prob_half_body=cfg.prob_half_body,
            num_joints_half_body=cfg.num_joints_half_body, flip=cfg.flip, train=self.train,
        )
        target, target_weight = generate_target(out.joints, out.joints_vis, self.model_cfg.image_size,
                                                self.model_cfg.heatmap_size, self.model_cfg.sigma, self.joints_weight)
        return {
            "image": normalize_image(out.image),
            "target": torch.from_numpy(target),
            "target_weight": torch.from_numpy(target_weight),
            # The box as given (validation maps predictions back through it; with train=False it is unchanged).
            "center": torch.as_tensor(np.asarray(sample.center, np.float32)),
            "scale": torch.as_tensor(np.asarray(sample.scale, np.float32)),
            "score": torch.tensor(float(sample.score), dtype=torch.float32),
            "image_id": torch.tensor(int(sample.image_id), dtype=torch.int64),
            "index": torch.tensor(index, dtype=torch.int64),
        }
