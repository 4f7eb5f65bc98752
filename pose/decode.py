"""Heatmaps -> keypoints: arg-max, sub-pixel refinement, flip test and the map back to image pixels.

Follows the official HRNet ``core/inference.py`` (``get_max_preds``, ``get_final_preds``) and
``utils/transforms.py`` (``flip_back``), vectorised over ``(B, J, H, W)``:

- arg-max over the flattened map (first maximum in row-major order on ties); a joint whose maximum is <= 0
  gets coordinates (0, 0) and keeps its (non-positive) maximum as score;
- "quarter offset": move a quarter pixel towards the higher neighbour in x and in y, only strictly inside the
  map (``1 < px < W-1 and 1 < py < H-1``);
- optional ``refine="dark"``: a second-order Taylor step on the log of the Gaussian-blurred heatmap (after
  DARK, Zhang et al. CVPR 2020) instead of the quarter offset; off by default;
- heatmap pixel -> image pixel with the inverse of the crop's affine transform at heatmap resolution.

``flip_back`` / ``shift_heatmap`` / ``average_flip`` accept numpy arrays or torch tensors, so the flip test can run
on the device before the heatmaps are copied to the host.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from pose.transforms import affine_points, flip_permutation, get_affine_transform

QUARTER = 0.25           # official POST_PROCESS offset, heatmap pixels
DARK_SIGMA = 2.0         # blur of the DARK refinement (official DARK uses an 11x11 kernel, sigma 2, at 64x48)
_LOG_FLOOR = 1e-10       # DARK: heatmaps are clipped to this before the log


def get_max_preds(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Arg-max of every map: ``(B, J, H, W)`` -> ``coords (B, J, 2)`` float32 (x, y), ``maxvals (B, J, 1)``.

    Ties go to the first maximum in row-major order; where the maximum is <= 0 the coordinates are (0, 0).
    """
    heatmaps = np.asarray(heatmaps)
    if heatmaps.ndim != 4:
        raise ValueError(f"heatmaps must be (B, J, H, W), got shape {heatmaps.shape}")
    batch, joints, _, width = heatmaps.shape
    flat = heatmaps.reshape(batch, joints, -1)
    idx = np.argmax(flat, axis=2)
    maxvals = np.take_along_axis(flat, idx[..., None], axis=2).astype(np.float32)
    coords = np.stack([idx % width, idx // width], axis=2).astype(np.float32)
    coords *= (maxvals > 0.0).astype(np.float32)
    return coords, maxvals


def _gather(heatmaps: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """``heatmaps[b, j, ys[b, j], xs[b, j]]`` for ``(B, J)`` index arrays."""
    b, j = np.meshgrid(np.arange(heatmaps.shape[0]), np.arange(heatmaps.shape[1]), indexing="ij")
    return heatmaps[b, j, ys, xs]


def quarter_offset(heatmaps: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Official POST_PROCESS: ``coords (B, J, 2)`` + 0.25 * sign of the neighbour differences, strictly inside.

    Returns new float32 coordinates; joints with ``px`` or ``py`` on or next to the border (``px <= 1``,
    ``px >= W-1``, same for y) are left as they are.
    """
    heatmaps = np.asarray(heatmaps)
    height, width = heatmaps.shape[2:]
    px = np.floor(coords[..., 0] + 0.5).astype(np.int64)
    py = np.floor(coords[..., 1] + 0.5).astype(np.int64)
    inside = (px > 1) & (px < width - 1) & (py > 1) & (py < height - 1)
    # indices are clipped only so that gathering at masked-out joints stays in range
    x0, x1 = np.clip(px - 1, 0, width - 1), np.clip(px + 1, 0, width - 1)
    y0, y1 = np.clip(py - 1, 0, height - 1), np.clip(py + 1, 0, height - 1)
    pxc, pyc = np.clip(px, 0, width - 1), np.clip(py, 0, height - 1)
    dx = _gather(heatmaps, pyc, x1) - _gather(heatmaps, pyc, x0)
    dy = _gather(heatmaps, y1, pxc) - _gather(heatmaps, y0, pxc)
    offset = np.stack([np.sign(dx), np.sign(dy)], axis=2).astype(np.float32) * np.float32(QUARTER)
    return (coords + offset * inside[..., None]).astype(np.float32)


def dark_refine(heatmaps: np.ndarray, coords: np.ndarray, sigma: float = DARK_SIGMA) -> np.ndarray:
    """Sub-pixel maxima by one Newton step on ``log(blurred heatmap)`` (after DARK), ``(B, J, 2)`` float32.

    Each map is blurred with a Gaussian of ``sigma`` (zero outside the map, an 11x11 kernel for sigma 2) and
    rescaled to its original maximum; at the integer arg-max the gradient ``g`` and Hessian ``H`` of the log come
    from central differences (step 1 for ``g``, step 2 for the diagonal of ``H``) and the offset is ``-H^-1 g``.
    Applied only where the stencil fits (``2 <= px < W-2``, same for y), the Hessian is that of a maximum
    (``det > 0``, ``d2/dx2 < 0``) and the step is at most one pixel per axis; other joints keep ``coords``.
    """
    heatmaps = np.asarray(heatmaps, dtype=np.float64)
    height, width = heatmaps.shape[2:]
    blurred = gaussian_filter(heatmaps, sigma=(0, 0, sigma, sigma), mode="constant", truncate=2.5)
    peak = heatmaps.max(axis=(2, 3), keepdims=True)
    blurred *= peak / np.maximum(blurred.max(axis=(2, 3), keepdims=True), _LOG_FLOOR)
    log = np.log(np.maximum(blurred, _LOG_FLOOR))

    px = np.round(coords[..., 0]).astype(np.int64)
    py = np.round(coords[..., 1]).astype(np.int64)
    fits = (px >= 2) & (px < width - 2) & (py >= 2) & (py < height - 2)
    xs, ys = np.clip(px, 2, width - 3), np.clip(py, 2, height - 3)

    def at(dy: int, dx: int) -> np.ndarray:
        return _gather(log, ys + dy, xs + dx)

    center = at(0, 0)
    gx = 0.5 * (at(0, 1) - at(0, -1))
    gy = 0.5 * (at(1, 0) - at(-1, 0))
    hxx = 0.25 * (at(0, 2) - 2 * center + at(0, -2))
    hyy = 0.25 * (at(2, 0) - 2 * center + at(-2, 0))
    hxy = 0.25 * (at(1, 1) - at(-1, 1) - at(1, -1) + at(-1, -1))
    det = hxx * hyy - hxy * hxy
    safe_det = np.where(det > 0, det, 1.0)
    # -H^-1 g with H^-1 = [[hyy, -hxy], [-hxy, hxx]] / det
    ox = -(hyy * gx - hxy * gy) / safe_det
    oy = -(-hxy * gx + hxx * gy) / safe_det
    ok = fits & (det > 0) & (hxx < 0) & (np.abs(ox) <= 1) & (np.abs(oy) <= 1) & (peak[..., 0, 0] > 0)
    offset = np.stack([ox, oy], axis=2) * ok[..., None]
    return (coords + offset).astype(np.float32)


def heatmap_to_image(
    coords: np.ndarray, center: np.ndarray, scale: np.ndarray, heatmap_size: Sequence[int]
) -> np.ndarray:
    """Heatmap pixels ``(B, J, 2)`` -> image pixels ``(B, J, 2)`` float64 (official ``transform_preds``).

    ``center``, ``scale``: ``(B, 2)`` of the crops; ``heatmap_size``: ``(width, height)``.
    """
    trans = get_affine_transform(np.asarray(center).reshape(-1, 2), np.asarray(scale).reshape(-1, 2), 0,
                                 heatmap_size, inv=True)
    return affine_points(coords, trans)


def decode_heatmaps(
    heatmaps: np.ndarray,
    center: np.ndarray,
    scale: np.ndarray,
    post_process: bool = True,
    refine: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Official ``get_final_preds``: ``(B, J, H, W)`` -> ``preds (B, J, 2)`` float32 image px, ``maxvals (B, J, 1)``.

    ``post_process`` applies the quarter offset; ``refine="dark"`` replaces it by :func:`dark_refine`.
    """
    if refine not in (None, "dark"):
        raise ValueError(f"refine must be None or 'dark', got {refine!r}")
    heatmaps = np.asarray(heatmaps)
    coords, maxvals = get_max_preds(heatmaps)
    if refine == "dark":
        coords = dark_refine(heatmaps, coords)
    elif post_process:
        coords = quarter_offset(heatmaps, coords)
    height, width = heatmaps.shape[2:]
    preds = heatmap_to_image(coords, center, scale, (width, height)).astype(np.float32)
    return preds, maxvals


# ---------------------------------------------------------------------------------------------------------------
# Flip test
# ---------------------------------------------------------------------------------------------------------------
def flip_back(heatmaps_flipped, flip_pairs: Sequence[Sequence[int]]):
    """Heatmaps of a mirrored input -> heatmaps of the original: reverse width, swap left/right channels.

    ``(B, J, H, W)`` numpy array or torch tensor; returns a new array/tensor of the same kind.
    """
    perm = flip_permutation(flip_pairs, heatmaps_flipped.shape[1])
    if isinstance(heatmaps_flipped, torch.Tensor):
        index = torch.as_tensor(perm, device=heatmaps_flipped.device)
        return heatmaps_flipped.flip(3).index_select(1, index)
    return np.ascontiguousarray(np.asarray(heatmaps_flipped)[:, perm, :, ::-1])


def shift_heatmap(heatmaps):
    """Official SHIFT_HEATMAP: move one pixel right (``out[..., 1:] = in[..., :-1]``; column 0 keeps its value)."""
    if isinstance(heatmaps, torch.Tensor):
        return torch.cat([heatmaps[..., :1], heatmaps[..., :-1]], dim=-1)
    heatmaps = np.asarray(heatmaps)
    return np.concatenate([heatmaps[..., :1], heatmaps[..., :-1]], axis=-1)


def average_flip(heatmaps, heatmaps_flipped, flip_pairs: Sequence[Sequence[int]], shift: bool = True):
    """Flip test: ``(heatmaps + flip_back(heatmaps_flipped) [shifted]) * 0.5`` (official ``validate``)."""
    if isinstance(heatmaps_flipped, torch.Tensor):
        back = flip_back(heatmaps_flipped, flip_pairs)
        return (heatmaps + (shift_heatmap(back) if shift else back)) * 0.5
    # numpy: the same sums written into one output array (one copy for the permuted mirror, no concatenation)
    heatmaps, flipped = np.asarray(heatmaps), np.asarray(heatmaps_flipped)
    back = flipped[:, flip_permutation(flip_pairs, flipped.shape[1]), :, ::-1]
    out = np.empty(np.broadcast_shapes(heatmaps.shape, back.shape), np.result_type(heatmaps, back))
    if shift:
        np.add(heatmaps[..., 1:], back[..., :-1], out=out[..., 1:])
        np.add(heatmaps[..., :1], back[..., :1], out=out[..., :1])
    else:
        np.add(heatmaps, back, out=out)
    out *= out.dtype.type(0.5)
    return out
