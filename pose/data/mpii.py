"""MPII Human Pose in the annotation layout of the official HRNet code.

Layout: ``ROOT/annot/<set>.json`` (a list of ``{"image", "center", "scale", "joints" (16, 2), "joints_vis" (16,)}``,
1-based MATLAB pixels), images in ``ROOT/images/``, and for validation ``ROOT/annot/gt_<set>.mat`` (the official
``gt_valid.mat``: ``pos_gt_src``, ``jnt_missing``, ``headboxes_src``), which lists the same people in the same order.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pose.data.dataset import DatasetError, PersonSample, require_file
from pose.fileio import parse_json_file
from pose.transforms import mpii_center_scale

NUM_JOINTS = 16


def mpii_paths(root: str | Path, image_set: str) -> tuple[Path, Path, Path]:
    """(annotation json, image folder, PCKh ground-truth .mat) of a split in the official layout."""
    root = Path(root)
    return root / "annot" / f"{image_set}.json", root / "images", root / "annot" / f"gt_{image_set}.mat"


def mpii_people(ann_file: str | Path, image_dir: str | Path, box_padding: float = 1.25) -> list[PersonSample]:
    """People of an MPII annotation json (official ``MPIIDataset._get_db``): 0-based joints, center shifted
    down by 15 x scale, scale padded by 1.25."""
    path = require_file(ann_file, "the MPII annotation json of the official HRNet layout (annot/<set>.json with "
                                  "image, center, scale, joints, joints_vis)")
    records = parse_json_file(path, DatasetError, "MPII annotation file", "give the official MPII annot/<set>.json")
    image_dir = Path(image_dir)
    people = []
    for i, rec in enumerate(records):
        try:
            center, scale = mpii_center_scale(np.asarray(rec["center"], np.float64), np.asarray([rec["scale"]]),
                                              box_padding)
            joints = np.asarray(rec.get("joints", np.zeros((NUM_JOINTS, 2))), np.float64).reshape(NUM_JOINTS, 2)
            vis = np.asarray(rec.get("joints_vis", np.zeros(NUM_JOINTS)), np.float64).reshape(NUM_JOINTS)
            people.append(PersonSample(image=str(image_dir / rec["image"]), center=center[0], scale=scale[0],
                                       joints=joints - 1.0, joints_vis=vis, score=1.0, image_id=i))
        except (KeyError, ValueError, TypeError) as error:
            raise DatasetError(f"record {i} of {path} is malformed ({error}); every record needs image, center, "
                               "scale, joints (16 x 2) and joints_vis (16)") from None
    return people
