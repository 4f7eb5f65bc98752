"""Keypoint similarity: OKS, OKS-NMS and soft OKS-NMS, as the official HRNet helpers compute them.

The tracker uses OKS to associate poses and OKS-NMS to remove duplicate poses; COCO validation rescoring uses
OKS-NMS / soft OKS-NMS. These reproduce the helpers of the official HRNet code (``lib/nms/nms.py`` of
leoxiaobin/deep-high-resolution-net.pytorch) number for number, quirks included:

* OKS with ``in_vis_thre``: the official ``list(vg > t) and list(vd > t)`` evaluates to ``list(vd > t)``, so only
  the *second* pose's visibilities select the joints (``both_visible=False``, the default, reproduces this);
* a pose is kept when its OKS with every kept pose is ``<= thresh``;
* soft OKS-NMS rescoring with ``score * exp(-oks ** 2 / thresh)`` and at most 20 poses kept.

Arrays: poses are ``(N, K, 3)`` keypoints ``[x, y, score]`` (or ``(N, K, 2)`` when no visibility is used), areas
``(N,)``. The OKS sigmas are an argument whose default is COCO-17's (``pose.keypoints.COCO17_SIGMAS``).
"""
from __future__ import annotations

import numpy as np

from pose.keypoints import COCO17_SIGMAS

# Official soft_oks_nms keeps at most this many poses (`max_dets = 20` in lib/nms/nms.py).
SOFT_OKS_MAX_DETS = 20


# ----------------------------------------------------------------------------------------------------------------- OKS

def _split_keypoints(kpts: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(..., K, 2|3) -> xy (..., K, 2), visibility (..., K) or None."""
    kpts = np.asarray(kpts, dtype=np.float64)
    if kpts.ndim < 2 or kpts.shape[-1] not in (2, 3):
        raise ValueError(f"{what} must have shape (..., K, 2) or (..., K, 3) [x, y, score], got {kpts.shape}")
    return kpts[..., :2], (kpts[..., 2] if kpts.shape[-1] == 3 else None)


def _check_sigmas(sigmas, num_joints: int) -> np.ndarray:
    sigmas = COCO17_SIGMAS if sigmas is None else np.asarray(sigmas, dtype=np.float64)
    if sigmas.shape != (num_joints,):
        raise ValueError(
            f"OKS sigmas must have one value per joint ({num_joints}), got shape {sigmas.shape}; "
            "pass `sigmas=` for a layout other than COCO-17"
        )
    return sigmas


def oks_matrix(
    kpts_a: np.ndarray,
    kpts_b: np.ndarray,
    areas_a: np.ndarray,
    areas_b: np.ndarray,
    sigmas: np.ndarray | None = None,
    in_vis_thre: float | None = None,
    both_visible: bool = False,
) -> np.ndarray:
    """Object keypoint similarity of every pose in ``a`` with every pose in ``b``.

    kpts_a: (M, K, 2|3), kpts_b: (N, K, 2|3) with column 2 the joint score/visibility; areas_a: (M,), areas_b: (N,).
    sigmas: (K,) per-joint sigmas (default :data:`pose.keypoints.COCO17_SIGMAS`). With ``in_vis_thre`` only joints whose score is
    above it count (mean over those joints, 0 when none): ``both_visible=False`` uses the scores of ``b`` only, as the
    official code does by accident; ``True`` requires both. Returns (M, N) float64; row ``i`` equals the official
    ``oks_iou(a[i], b, areas_a[i], areas_b, sigmas, in_vis_thre)``.
    """
    xy_a, vis_a = _split_keypoints(kpts_a, "kpts_a")
    xy_b, vis_b = _split_keypoints(kpts_b, "kpts_b")
    if xy_a.ndim != 3 or xy_b.ndim != 3 or xy_a.shape[1] != xy_b.shape[1]:
        raise ValueError(f"oks_matrix needs (M, K, .) and (N, K, .) keypoints, got {xy_a.shape} and {xy_b.shape}")
    sigmas = _check_sigmas(sigmas, xy_a.shape[1])
    variances = (sigmas * 2) ** 2
    areas_a = np.asarray(areas_a, dtype=np.float64).reshape(-1)
    areas_b = np.asarray(areas_b, dtype=np.float64).reshape(-1)

    dx = xy_b[None, :, :, 0] - xy_a[:, None, :, 0]  # (M, N, K)
    dy = xy_b[None, :, :, 1] - xy_a[:, None, :, 1]
    # Same operation order as the official code, so values agree bit for bit on its test vectors.
    scale = (areas_a[:, None, None] + areas_b[None, :, None]) / 2 + np.spacing(1)
    e = (dx**2 + dy**2) / variances / scale / 2
    similarity = np.exp(-e)

    if in_vis_thre is None:
        return similarity.sum(axis=-1) / similarity.shape[-1]
    if vis_b is None or (both_visible and vis_a is None):
        raise ValueError("in_vis_thre needs keypoints with a score column, shape (N, K, 3)")
    mask = np.broadcast_to(vis_b[None, :, :] > in_vis_thre, similarity.shape)
    if both_visible:
        mask = mask & (vis_a[:, None, :] > in_vis_thre)
    count = mask.sum(axis=-1)
    total = np.where(mask, similarity, 0.0).sum(axis=-1)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def oks_one_to_many(
    kpts: np.ndarray,
    others: np.ndarray,
    area: float,
    other_areas: np.ndarray,
    sigmas: np.ndarray | None = None,
    in_vis_thre: float | None = None,
    both_visible: bool = False,
) -> np.ndarray:
    """OKS of one pose (K, 2|3) with each of ``others`` (N, K, 2|3); areas scalar and (N,). Returns (N,).

    Equal to the official ``oks_iou(g, d, a_g, a_d, sigmas, in_vis_thre)``; see :func:`oks_matrix` for the options.
    """
    kpts = np.asarray(kpts, dtype=np.float64)
    return oks_matrix(kpts[None], others, np.array([area]), other_areas, sigmas, in_vis_thre, both_visible)[0]


# ----------------------------------------------------------------------------------------------------------- OKS-NMS

def _order_by_score(scores: np.ndarray) -> np.ndarray:
    # `argsort()[::-1]` exactly as the official code (ties break the same way).
    return np.asarray(scores, dtype=np.float64).argsort()[::-1]


def _greedy_suppression(overlap: np.ndarray, scores: np.ndarray, thresh: float) -> np.ndarray:
    """Keep the best-scoring item, drop the rest whose overlap with it is above ``thresh``, repeat (official rule:
    an overlap equal to the threshold is kept). overlap (N, N); returns kept indices in score order."""
    order = _order_by_score(scores)
    keep = []
    while order.size > 0:
        best, rest = order[0], order[1:]
        keep.append(best)
        order = rest[overlap[best, rest] <= thresh]
    return np.asarray(keep, dtype=np.int64)


def oks_nms(
    kpts: np.ndarray,
    scores: np.ndarray,
    areas: np.ndarray,
    thresh: float,
    sigmas: np.ndarray | None = None,
    in_vis_thre: float | None = None,
    both_visible: bool = False,
) -> np.ndarray:
    """Greedy OKS-NMS: keep the best-scoring pose, drop those with OKS ``> thresh`` to it, repeat.

    kpts: (N, K, 2|3); scores: (N,); areas: (N,). Returns the kept indices (int64), best first, as the official
    ``oks_nms`` does.
    """
    kpts = np.asarray(kpts, dtype=np.float64)
    if len(kpts) == 0:
        return np.zeros(0, dtype=np.int64)
    overlap = oks_matrix(kpts, kpts, areas, areas, sigmas, in_vis_thre, both_visible)
    return _greedy_suppression(overlap, scores, thresh)


def soft_oks_nms(
    kpts: np.ndarray,
    scores: np.ndarray,
    areas: np.ndarray,
    thresh: float,
    sigmas: np.ndarray | None = None,
    in_vis_thre: float | None = None,
    both_visible: bool = False,
    max_dets: int = SOFT_OKS_MAX_DETS,
) -> np.ndarray:
    """Soft OKS-NMS with gaussian rescoring, the official ``soft_oks_nms``.

    Repeatedly takes the best remaining pose and multiplies the scores of the others by ``exp(-oks ** 2 / thresh)``;
    nothing is dropped, only re-ordered, and at most ``max_dets`` (official: 20) indices are returned (int64).
    """
    kpts = np.asarray(kpts, dtype=np.float64)
    if len(kpts) == 0:
        return np.zeros(0, dtype=np.int64)
    overlap = oks_matrix(kpts, kpts, areas, areas, sigmas, in_vis_thre, both_visible)
    order = _order_by_score(scores)
    current = np.asarray(scores, dtype=np.float64)[order]
    keep = []
    while order.size > 0 and len(keep) < max_dets:
        best, rest = order[0], order[1:]
        keep.append(best)
        current = current[1:] * np.exp(-overlap[best, rest] ** 2 / thresh)
        resort = current.argsort()[::-1]
        order, current = rest[resort], current[resort]
    return np.asarray(keep, dtype=np.int64)
