"""Geometry between a person box and the network's input crop, and the training augmentations.

Conventions are those of the official HRNet code (``lib/utils/transforms.py``, ``lib/dataset/*.py``):

- A person is described by a ``center`` ``(2,)`` in image pixels and a ``scale`` ``(2,)`` = box ``[w, h]`` in
  units of ``PIXEL_STD`` = 200 px, after the box is widened or heightened to the crop's aspect ratio and padded by
  1.25. Coordinates are pixel indices (no half-pixel offset anywhere).
- The crop is the similarity transform built from three point pairs (center, a point above it, a third point
  perpendicular), so only ``scale[0]`` (the width) sets the zoom and ``output_size`` sets the aspect ratio.
- ``output_size`` / ``image_size`` are ``(width, height)`` as in the official yamls.

Everything here is plain numpy / OpenCV. Functions that take a batch of boxes return stacked results; the
random augmentations take an ``np.random.Generator`` so a dataset decides the seeding.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

PIXEL_STD = 200.0          # official: scale is in units of 200 px
BOX_PADDING = 1.25         # official COCO/MPII: scale *= 1.25 around the person box
HALF_BODY_PADDING = 1.5    # official JointsDataset.half_body_transform: scale *= 1.5
ROTATION_PROBABILITY = 0.6  # official JointsDataset: a rotation is drawn with probability 0.6
FLIP_PROBABILITY = 0.5     # official JointsDataset: random.random() <= 0.5
MPII_CENTER_SHIFT = 15.0   # official MPII _get_db: center[1] += 15 * scale

# Joint names that belong to the lower body for the half-body augmentation (official COCO upper ids 0-10,
# MPII upper ids 7-15: everything but hips, knees, ankles and the MPII pelvis).
_LOWER_BODY_WORDS = ("hip", "knee", "ankle", "pelvis")


# ---------------------------------------------------------------------------------------------------------------
# Boxes -> center / scale
# ---------------------------------------------------------------------------------------------------------------
def xyxy_to_xywh(boxes: np.ndarray) -> np.ndarray:
    """``(N, 4)`` ``[x1, y1, x2, y2]`` -> ``(N, 4)`` ``[x, y, w, h]`` with ``w = x2 - x1`` (no +1)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    out = boxes.copy()
    out[..., 2:4] = boxes[..., 2:4] - boxes[..., 0:2]
    return out


def xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """``(N, 4)`` ``[x, y, w, h]`` -> ``(N, 4)`` ``[x1, y1, x2, y2]``."""
    boxes = np.asarray(boxes, dtype=np.float64)
    out = boxes.copy()
    out[..., 2:4] = boxes[..., 0:2] + boxes[..., 2:4]
    return out


def aspect_ratio_of(image_size: Sequence[int]) -> float:
    """Width / height of a crop given as ``(width, height)``; 0.75 for 192x256."""
    return float(image_size[0]) / float(image_size[1])


def box_to_center_scale(
    boxes: np.ndarray,
    aspect_ratio: float,
    padding: float = BOX_PADDING,
    box_format: str = "xywh",
) -> tuple[np.ndarray, np.ndarray]:
    """Person boxes -> ``center (N, 2)``, ``scale (N, 2)`` float32 as the official COCO ``_xywh2cs``.

    ``boxes``: ``(N, 4)`` or ``(4,)`` in ``box_format`` ``"xywh"`` or ``"xyxy"``. The box grows in width or height
    to ``aspect_ratio`` (crop width / height), is divided by ``PIXEL_STD`` and multiplied by ``padding``. A single
    box gives ``(2,)`` arrays.
    """
    if box_format not in ("xywh", "xyxy"):
        raise ValueError(f"box_format must be 'xywh' or 'xyxy', got {box_format!r}")
    boxes = np.asarray(boxes, dtype=np.float64)
    single = boxes.ndim == 1
    boxes = boxes.reshape(-1, 4)
    if box_format == "xyxy":
        boxes = xyxy_to_xywh(boxes)
    x, y, w, h = boxes.T
    center = np.stack([x + w * 0.5, y + h * 0.5], axis=1).astype(np.float32)
    wider = w > aspect_ratio * h
    taller = w < aspect_ratio * h
    h = np.where(wider, w / aspect_ratio, h)
    w = np.where(taller, h * aspect_ratio, w)
    scale = np.stack([w / PIXEL_STD, h / PIXEL_STD], axis=1).astype(np.float32)
    # official quirk: the padding is skipped for the "no center" sentinel center[0] == -1
    scale = np.where((center[:, 0] != -1)[:, None], scale * np.float32(padding), scale).astype(np.float32)
    if single:
        return center[0], scale[0]
    return center, scale


def center_scale_to_xyxy(center: np.ndarray, scale: np.ndarray, padding: float = 1.0) -> np.ndarray:
    """The box covered by a center/scale, ``(N, 4)`` xyxy; ``padding`` divides the size back out (1.25 to undo it)."""
    center = np.asarray(center, dtype=np.float64).reshape(-1, 2)
    size = np.asarray(scale, dtype=np.float64).reshape(-1, 2) * PIXEL_STD / padding
    return np.concatenate([center - size / 2, center + size / 2], axis=1)


def mpii_center_scale(
    center: np.ndarray, scale: np.ndarray, padding: float = BOX_PADDING
) -> tuple[np.ndarray, np.ndarray]:
    """MPII annotation ``center (N, 2)`` (1-based) and scalar ``scale (N,)`` -> 0-based center, ``(N, 2)`` scale.

    Official MPII ``_get_db``: ``c[1] += 15 * s``, ``s *= 1.25`` (unless ``c[0] == -1``), then ``c -= 1``. The
    joints of an MPII annotation are moved to 0-based by the dataset with ``joints -= 1`` as well.
    """
    center = np.array(center, dtype=np.float64).reshape(-1, 2)
    s = np.asarray(scale, dtype=np.float64).reshape(-1)
    scale2 = np.stack([s, s], axis=1)
    valid = center[:, 0] != -1
    center[:, 1] = np.where(valid, center[:, 1] + MPII_CENTER_SHIFT * scale2[:, 1], center[:, 1])
    scale2 = np.where(valid[:, None], scale2 * padding, scale2)
    return center - 1.0, scale2


# ---------------------------------------------------------------------------------------------------------------
# Affine transforms
# ---------------------------------------------------------------------------------------------------------------
def _third_point(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``b`` plus ``a - b`` turned by 90 degrees, ``(N, 2)`` float32 (the official ``get_3rd_point``)."""
    direction = a - b
    return b + np.stack([-direction[:, 1], direction[:, 0]], axis=1)


def _solve_affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """``(N, 3, 2)`` point pairs -> ``(N, 2, 3)`` float64 matrices mapping src to dst (as cv2.getAffineTransform)."""
    src = src.astype(np.float64)
    ones = np.ones(src.shape[:2] + (1,))
    a = np.concatenate([src, ones], axis=2)                       # (N, 3, 3)
    solution = np.linalg.solve(a, dst.astype(np.float64))         # (N, 3, 2)
    return np.transpose(solution, (0, 2, 1))


def get_affine_transform(
    center: np.ndarray,
    scale: np.ndarray,
    rot: float | np.ndarray,
    output_size: Sequence[int],
    shift: Sequence[float] = (0.0, 0.0),
    inv: bool = False,
) -> np.ndarray:
    """Image -> crop affine (or crop -> image with ``inv``), same construction as the official function.

    ``center``: ``(2,)`` or ``(N, 2)`` image pixels; ``scale``: ``(2,)`` / ``(N, 2)`` in units of 200 px (a scalar
    means ``[s, s]``); ``rot``: degrees, scalar or ``(N,)``; ``output_size``: ``(width, height)`` of the crop (or
    heatmap); ``shift``: fraction of the scale added to the center. Returns ``(2, 3)`` float64 for one center,
    ``(N, 2, 3)`` for a batch. The three points are rounded to float32 as the official code does.
    """
    center = np.asarray(center, dtype=np.float64)
    single = center.ndim == 1
    center = center.reshape(-1, 2)
    n = center.shape[0]
    scale = np.asarray(scale)
    if not np.issubdtype(scale.dtype, np.floating):
        scale = scale.astype(np.float64)
    if scale.ndim == 0:
        scale = np.array([scale, scale])
    scale = np.broadcast_to(scale.reshape(-1, 2), (n, 2))
    rot = np.broadcast_to(np.asarray(rot, dtype=np.float64).reshape(-1), (n,))
    shift = np.asarray(shift, dtype=scale.dtype).reshape(1, 2)

    # in the scale's own precision, as the official `scale * 200.0` (float32 scales give float32 sizes)
    scale_px = scale * scale.dtype.type(PIXEL_STD)
    src_w = scale_px[:, 0]
    dst_w, dst_h = float(output_size[0]), float(output_size[1])
    rot_rad = np.pi * rot / 180.0
    sn, cs = np.sin(rot_rad), np.cos(rot_rad)
    # the point (0, -src_w / 2) rotated by rot (official get_dir)
    src_dir = np.stack([src_w * 0.5 * sn, -src_w * 0.5 * cs], axis=1)

    src = np.zeros((n, 3, 2), dtype=np.float32)
    dst = np.zeros((n, 3, 2), dtype=np.float32)
    src[:, 0] = center + scale_px * shift
    src[:, 1] = center + src_dir + scale_px * shift
    dst[:, 0] = [dst_w * 0.5, dst_h * 0.5]
    dst[:, 1] = [dst_w * 0.5, dst_h * 0.5 - dst_w * 0.5]
    src[:, 2] = _third_point(src[:, 0], src[:, 1])
    dst[:, 2] = _third_point(dst[:, 0], dst[:, 1])

    trans = _solve_affine(dst, src) if inv else _solve_affine(src, dst)
    return trans[0] if single else trans


def invert_affine(trans: np.ndarray) -> np.ndarray:
    """Inverse of ``(2, 3)`` or ``(N, 2, 3)`` affine matrices."""
    trans = np.asarray(trans, dtype=np.float64)
    linear_inv = np.linalg.inv(trans[..., :2])
    offset = -np.einsum("...ij,...j->...i", linear_inv, trans[..., 2])
    return np.concatenate([linear_inv, offset[..., None]], axis=-1)


def affine_points(points: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """Apply affine matrices to points.

    ``points``: ``(..., 2)`` with ``trans`` ``(2, 3)``, or ``(N, K, 2)`` with ``trans`` ``(N, 2, 3)`` (one matrix per
    person). Returns float64 points of the same shape.
    """
    points = np.asarray(points, dtype=np.float64)
    trans = np.asarray(trans, dtype=np.float64)
    if trans.ndim == 2:
        return points @ trans[:, :2].T + trans[:, 2]
    return np.einsum("nij,nkj->nki", trans[:, :, :2], points) + trans[:, None, :, 2]


# ---------------------------------------------------------------------------------------------------------------
# Crops
# ---------------------------------------------------------------------------------------------------------------
def crop(
    image: np.ndarray, center: np.ndarray, scale: np.ndarray, output_size: Sequence[int], rot: float = 0.0
) -> np.ndarray:
    """One crop ``(h, w, C)`` of ``image`` ``(H, W, C)``, bilinear, zero outside the image (official ``crop``)."""
    trans = get_affine_transform(center, scale, rot, output_size)
    return warp(image, trans, output_size)


def warp(image: np.ndarray, trans: np.ndarray, output_size: Sequence[int]) -> np.ndarray:
    """``cv2.warpAffine`` with ``INTER_LINEAR`` and a zero border to an ``output_size`` ``(width, height)`` crop."""
    return cv2.warpAffine(image, trans, (int(output_size[0]), int(output_size[1])), flags=cv2.INTER_LINEAR)


def crop_batch(image: np.ndarray, trans: np.ndarray, output_size: Sequence[int]) -> np.ndarray:
    """All crops of one image: ``trans`` ``(N, 2, 3)`` -> ``(N, h, w, C)`` in the image's dtype."""
    width, height = int(output_size[0]), int(output_size[1])
    channels = image.shape[2:] if image.ndim == 3 else ()
    out = np.empty((len(trans), height, width) + channels, dtype=image.dtype)
    for i, matrix in enumerate(trans):
        out[i] = warp(image, matrix, output_size)
    return out


def person_crops(image: np.ndarray, boxes_xyxy: np.ndarray, image_size: Sequence[int], box_padding: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The top-down crops of person boxes: each box widened to the input's aspect ratio and padded by
    ``box_padding`` (official 1.25), then warped to ``image_size`` ``(width, height)``. Returns the ``(N, h, w, C)``
    crops and their ``center (N, 2)``, ``scale (N, 2)``."""
    width, height = int(image_size[0]), int(image_size[1])
    center, scale = box_to_center_scale(np.asarray(boxes_xyxy, np.float64), width / height, box_padding,
                                        box_format="xyxy")
    return crop_batch(image, get_affine_transform(center, scale, 0, (width, height)), (width, height)), center, scale


# ---------------------------------------------------------------------------------------------------------------
# Flipping
# ---------------------------------------------------------------------------------------------------------------
def fliplr_joints(
    joints: np.ndarray, joints_vis: np.ndarray, width: int, flip_pairs: Sequence[Sequence[int]]
) -> tuple[np.ndarray, np.ndarray]:
    """Mirror joints of an image of ``width`` pixels: ``x -> width - x - 1``, swap left/right pairs.

    ``joints``: ``(K, D)`` (D = 2 or 3); ``joints_vis``: same shape (or ``(K,)``). As the official function, the
    returned joints are multiplied by the visibilities (invisible joints become 0). Inputs are not modified.
    """
    joints = np.array(joints, dtype=np.float64)
    joints_vis = np.array(joints_vis, dtype=np.float64)
    joints[:, 0] = width - joints[:, 0] - 1
    perm = flip_permutation(flip_pairs, len(joints))
    joints, joints_vis = joints[perm], joints_vis[perm]
    vis = joints_vis if joints_vis.ndim == joints.ndim else joints_vis[:, None]
    return joints * vis, joints_vis


def flip_permutation(flip_pairs: Sequence[Sequence[int]], num_joints: int) -> np.ndarray:
    """``(K,)`` indices that swap every pair: ``mirrored = original[perm]``."""
    perm = np.arange(num_joints)
    for a, b in flip_pairs:
        perm[a], perm[b] = b, a
    return perm


def flip_image(image: np.ndarray) -> np.ndarray:
    """Left-right mirror of an ``(H, W, ...)`` image, contiguous (OpenCV needs it)."""
    return np.ascontiguousarray(image[:, ::-1])


def with_mirrored(crops: np.ndarray) -> np.ndarray:
    """``(N, h, w, C)`` crops followed by their left-right mirrors: ``(2N, h, w, C)``, the flip test's one batch.
    (``cv2.flip`` into the output: about 8x faster than concatenating a negative-stride view.)"""
    crops = np.asarray(crops)
    out = np.empty((2 * len(crops),) + crops.shape[1:], crops.dtype)
    out[:len(crops)] = crops
    for i, crop_ in enumerate(crops):
        cv2.flip(crop_, 1, dst=out[len(crops) + i])
    return out


def flip_sample(
    image: np.ndarray,
    joints: np.ndarray,
    joints_vis: np.ndarray,
    center: np.ndarray,
    flip_pairs: Sequence[Sequence[int]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mirror an image with its joints and person center (official training flip): ``c[0] -> W - c[0] - 1``."""
    width = image.shape[1]
    joints, joints_vis = fliplr_joints(joints, joints_vis, width, flip_pairs)
    center = np.array(center, dtype=np.float64)
    center[0] = width - center[0] - 1
    return flip_image(image), joints, joints_vis, center


# ---------------------------------------------------------------------------------------------------------------
# Training augmentation
# ---------------------------------------------------------------------------------------------------------------
def upper_body_ids(joint_names: Sequence[str]) -> tuple[int, ...]:
    """Indices of upper-body joints for the half-body augmentation (COCO: 0-10, MPII: 7-15, as official)."""
    return tuple(i for i, name in enumerate(joint_names) if not any(word in name for word in _LOWER_BODY_WORDS))


def random_scale_rotation(
    rng: np.random.Generator,
    scale_factor: float,
    rot_factor: float,
    rot_prob: float = ROTATION_PROBABILITY,
) -> tuple[float, float]:
    """Draw ``(scale multiplier, rotation degrees)`` as the official dataset.

    multiplier = ``clip(N(0,1) * sf + 1, 1 - sf, 1 + sf)``; rotation = ``clip(N(0,1) * rf, -2 rf, 2 rf)`` with
    probability ``rot_prob`` (drawn as ``U[0,1) <= rot_prob``), else 0.
    """
    multiplier = float(np.clip(rng.standard_normal() * scale_factor + 1, 1 - scale_factor, 1 + scale_factor))
    rotation = 0.0
    if rng.random() <= rot_prob:
        rotation = float(np.clip(rng.standard_normal() * rot_factor, -2 * rot_factor, 2 * rot_factor))
    return multiplier, rotation


def half_body_center_scale(
    rng: np.random.Generator,
    joints: np.ndarray,
    joints_vis: np.ndarray,
    upper_ids: Sequence[int],
    aspect_ratio: float,
    padding: float = HALF_BODY_PADDING,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Center/scale around the visible upper or lower body (official ``half_body_transform``), or None.

    The upper body is chosen when ``N(0,1) < 0.5`` (the official code draws ``randn``, not ``rand``, so about
    69 %) and it has more than 2 visible joints; otherwise the lower body if it has more than 2, else the upper.
    Fewer than 2 selected joints -> None. The box of the selected joints is fixed to ``aspect_ratio``, divided by
    200 and multiplied by ``padding`` (1.5). ``joints`` ``(K, >=2)``; ``joints_vis`` ``(K,)`` or ``(K, >=1)``.
    """
    joints = np.asarray(joints, dtype=np.float64)
    vis = np.asarray(joints_vis).reshape(len(joints), -1)[:, 0] > 0
    is_upper = np.zeros(len(joints), dtype=bool)
    is_upper[list(upper_ids)] = True
    upper = joints[vis & is_upper, :2]
    lower = joints[vis & ~is_upper, :2]
    if rng.standard_normal() < 0.5 and len(upper) > 2:
        selected = upper
    else:
        selected = lower if len(lower) > 2 else upper
    if len(selected) < 2:
        return None
    selected = selected.astype(np.float32)
    center = selected.mean(axis=0)
    w, h = (selected.max(axis=0) - selected.min(axis=0)).astype(np.float64)
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    elif w < aspect_ratio * h:
        w = h * aspect_ratio
    scale = np.array([w / PIXEL_STD, h / PIXEL_STD], dtype=np.float32) * np.float32(padding)
    return center, scale


@dataclass(frozen=True)
class AugmentedSample:
    """One training sample after augmentation: the crop and the joints in crop pixels."""

    image: np.ndarray        # (h, w, C) crop
    joints: np.ndarray       # (K, D) in crop pixels (visible joints transformed)
    joints_vis: np.ndarray   # (K, D) or (K,) visibilities (permuted when flipped)
    center: np.ndarray       # (2,) center used, image pixels (after flip)
    scale: np.ndarray        # (2,) scale used
    rotation: float          # degrees
    flipped: bool
    trans: np.ndarray        # (2, 3) image -> crop


def augment_and_crop(
    rng: np.random.Generator,
    image: np.ndarray,
    joints: np.ndarray,
    joints_vis: np.ndarray,
    center: np.ndarray,
    scale: np.ndarray,
    output_size: Sequence[int],
    *,
    flip_pairs: Sequence[Sequence[int]],
    upper_ids: Sequence[int] = (),
    scale_factor: float = 0.35,
    rot_factor: float = 45.0,
    prob_half_body: float = 0.3,
    num_joints_half_body: int = 8,
    flip: bool = True,
    train: bool = True,
) -> AugmentedSample:
    """The official ``JointsDataset.__getitem__`` geometry: half-body, scale, rotation, flip, then the crop.

    Order (official): half-body with probability ``prob_half_body`` when more than ``num_joints_half_body``
    joints are visible; scale multiplier and rotation (:func:`random_scale_rotation`); horizontal flip with
    probability 0.5 (image, joints, center); affine crop; visible joints moved into the crop. With
    ``train=False`` only the crop is made.
    """
    center = np.array(center, dtype=np.float64)
    scale = np.array(scale, dtype=np.float64)
    rotation, flipped = 0.0, False
    if train:
        vis_count = np.sum(np.asarray(joints_vis).reshape(len(joints), -1)[:, 0])
        if vis_count > num_joints_half_body and rng.random() < prob_half_body:
            half = half_body_center_scale(rng, joints, joints_vis, upper_ids, aspect_ratio_of(output_size))
            if half is not None:
                center, scale = half[0].astype(np.float64), half[1].astype(np.float64)
        multiplier, rotation = random_scale_rotation(rng, scale_factor, rot_factor)
        scale = scale * multiplier
        if flip and rng.random() <= FLIP_PROBABILITY:
            image, joints, joints_vis, center = flip_sample(image, joints, joints_vis, center, flip_pairs)
            flipped = True
    trans = get_affine_transform(center, scale, rotation, output_size)
    crop_image = warp(image, trans, output_size)
    joints = np.array(joints, dtype=np.float64)
    visible = np.asarray(joints_vis).reshape(len(joints), -1)[:, 0] > 0
    joints[visible, :2] = affine_points(joints[visible, :2], trans)
    return AugmentedSample(crop_image, joints, np.asarray(joints_vis), center, scale, rotation, flipped, trans)
