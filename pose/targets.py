"""Training targets: one Gaussian heatmap and one weight per joint, as the official HRNet code makes them.

``generate_target`` follows ``JointsDataset.generate_target`` of the official code: the joint (in input-crop
pixels) is moved to the heatmap grid with ``int(x / stride + 0.5)``, an un-normalised Gaussian (peak 1) of
size ``6 * sigma + 1`` is pasted there (clipped at the borders), and the weight is 0 for invisible joints and
for joints whose whole Gaussian window falls outside the heatmap.
"""
from __future__ import annotations

import numpy as np

# Per-joint loss weights of the official COCO code (LOSS.USE_DIFFERENT_JOINTS_WEIGHT; off in the paper configs).
COCO_JOINTS_WEIGHT = (1., 1., 1., 1., 1., 1., 1., 1.2, 1.2, 1.5, 1.5, 1., 1., 1.2, 1.2, 1.5, 1.5)


def gaussian_patch(sigma: float) -> np.ndarray:
    """(S, S) float32 Gaussian with peak 1 at the centre, S = 2 * int(3 * sigma) + 1 (3-sigma window)."""
    tmp_size = sigma * 3
    size = 2 * tmp_size + 1
    x = np.arange(0, size, 1, np.float32)
    y = x[:, None]
    x0 = y0 = size // 2
    return np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * sigma ** 2)).astype(np.float32)


def generate_target(
    joints: np.ndarray,
    joints_vis: np.ndarray,
    image_size: tuple[int, int],
    heatmap_size: tuple[int, int],
    sigma: float,
    joints_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian heatmaps and target weights for one person.

    joints: (K, 2+) joint positions in input-crop pixels; joints_vis: (K,) or (K, 1+) visibility (column 0 used).
    image_size, heatmap_size: (width, height). Returns target (K, H, W) float32 and target_weight (K, 1) float32.
    """
    joints = np.asarray(joints, dtype=np.float64)
    vis = np.asarray(joints_vis, dtype=np.float64).reshape(len(joints), -1)[:, 0]
    num_joints = len(joints)
    width, height = int(heatmap_size[0]), int(heatmap_size[1])
    stride = np.array(image_size, np.float64) / np.array(heatmap_size, np.float64)

    target = np.zeros((num_joints, height, width), np.float32)
    target_weight = vis.astype(np.float32).reshape(num_joints, 1).copy()
    tmp_size = sigma * 3
    patch = gaussian_patch(sigma)

    for k in range(num_joints):
        # int() truncates toward zero, as the official code does (it matters for joints just left of the crop).
        mu_x = int(joints[k, 0] / stride[0] + 0.5)
        mu_y = int(joints[k, 1] / stride[1] + 0.5)
        ul = (int(mu_x - tmp_size), int(mu_y - tmp_size))
        br = (int(mu_x + tmp_size + 1), int(mu_y + tmp_size + 1))
        if ul[0] >= width or ul[1] >= height or br[0] < 0 or br[1] < 0:
            target_weight[k] = 0
            continue
        # Overlap of the patch with the heatmap, in patch and in heatmap coordinates.
        gx = max(0, -ul[0]), min(br[0], width) - ul[0]
        gy = max(0, -ul[1]), min(br[1], height) - ul[1]
        hx = max(0, ul[0]), min(br[0], width)
        hy = max(0, ul[1]), min(br[1], height)
        if target_weight[k] > 0.5:
            target[k, hy[0]:hy[1], hx[0]:hx[1]] = patch[gy[0]:gy[1], gx[0]:gx[1]]

    if joints_weight is not None:
        target_weight = target_weight * np.asarray(joints_weight, np.float32).reshape(num_joints, 1)
    return target, target_weight
