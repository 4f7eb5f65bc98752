"""Frame pairs with known motion, for testing and benchmarking flow backends without any dataset.

A pair is a random multi-scale texture and the same texture moved by a known transform (translation, rotation,
zoom, or two textured objects sliding apart over a still background), with the true flow prev -> next and a mask of
the pixels where it is measurable (textured, away from the image border and from the objects' edges, where pixels
appear or disappear).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class KnownMotionPair:
    """prev, next: (H, W, 3) uint8 RGB; flow: (H, W, 2) float32 true displacement prev -> next; valid: (H, W) bool."""

    name: str
    prev: np.ndarray
    next: np.ndarray
    flow: np.ndarray
    valid: np.ndarray


def textured_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A random RGB texture (H, W, 3) uint8: blurred noise at several scales (2 to 16 px), full contrast."""
    rng = np.random.default_rng(seed)
    image = np.zeros((height, width, 3), np.float32)
    for sigma, weight in ((1.0, 1.0), (2.0, 1.0), (4.0, 0.7), (8.0, 0.5)):
        noise = rng.standard_normal((height, width, 3)).astype(np.float32)
        band = cv2.GaussianBlur(noise, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
        image += weight * band / (band.std() + 1e-6)
    image = (image - image.mean()) / (image.std() + 1e-6)
    return np.clip(128 + 50 * image, 0, 255).astype(np.uint8)


def endpoint_error(flow: np.ndarray, true_flow: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Mean end-point error (pixels) of a flow (H, W, 2) against the truth, over ``valid`` (H, W) when given."""
    error = np.linalg.norm(np.asarray(flow, np.float64) - true_flow, axis=-1)
    return float(error[valid].mean() if valid is not None else error.mean())


def affine_pair(image: np.ndarray, matrix: np.ndarray, name: str = "affine", margin: int = 8) -> KnownMotionPair:
    """Move ``image`` (H, W, 3) by the 2x3 affine ``matrix`` (prev pixel p -> next pixel A p).

    ``valid`` keeps pixels at least ``margin`` px inside the frame both before and after the move.
    """
    height, width = image.shape[:2]
    matrix = np.asarray(matrix, np.float64)
    moved = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    nx = matrix[0, 0] * xs + matrix[0, 1] * ys + matrix[0, 2]
    ny = matrix[1, 0] * xs + matrix[1, 1] * ys + matrix[1, 2]
    flow = np.stack([nx - xs, ny - ys], axis=-1).astype(np.float32)

    def inside(x, y):
        return (x >= margin) & (x <= width - 1 - margin) & (y >= margin) & (y <= height - 1 - margin)

    return KnownMotionPair(name, image, moved, flow, inside(xs, ys) & inside(nx, ny))


def translation_pair(height=120, width=160, dx=3.3, dy=-1.7, seed=0) -> KnownMotionPair:
    """The whole frame shifted by (dx, dy) px."""
    matrix = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
    return affine_pair(textured_image(height, width, seed), matrix, f"translation ({dx:+g}, {dy:+g}) px")


def rotation_pair(height=120, width=160, degrees=3.0, seed=1) -> KnownMotionPair:
    """The whole frame rotated by ``degrees`` about its centre."""
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), degrees, 1.0)
    return affine_pair(textured_image(height, width, seed), matrix, f"rotation {degrees:g} deg")


def zoom_pair(height=120, width=160, scale=1.05, seed=2) -> KnownMotionPair:
    """The whole frame scaled by ``scale`` about its centre."""
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), 0.0, scale)
    return affine_pair(textured_image(height, width, seed), matrix, f"zoom x{scale:g}")


def two_objects_pair(height=120, width=160, shift=3, seed=3, margin=8) -> KnownMotionPair:
    """Two textured rectangles over a still textured background, moving ``shift`` px apart (left one left).

    ``valid``: the objects' interiors and the background, each at least ``margin`` px from any object edge (before
    or after the move) and from the frame border.
    """
    background = textured_image(height, width, seed)
    objects = textured_image(height, width, seed + 100)
    ow, oh = width // 4, height // 2
    y0 = (height - oh) // 2
    rects = [(width // 2 - ow - 4, y0, -shift), (width // 2 + 4, y0, shift)]  # (x0, y0, dx)

    prev, nxt = background.copy(), background.copy()
    flow = np.zeros((height, width, 2), np.float32)
    near_edge = np.zeros((height, width), bool)
    interior = np.zeros((height, width), bool)
    for x0, top, dx in rects:
        patch = objects[top:top + oh, x0:x0 + ow]
        prev[top:top + oh, x0:x0 + ow] = patch
        nxt[top:top + oh, x0 + dx:x0 + dx + ow] = patch
        flow[top:top + oh, x0:x0 + ow, 0] = dx
        interior[top + margin:top + oh - margin, x0 + margin:x0 + ow - margin] = True
        for left in (x0, x0 + dx):  # object area before and after, grown by the margin
            near_edge[max(top - margin, 0):top + oh + margin, max(left - margin, 0):left + ow + margin] = True
    border = np.zeros((height, width), bool)
    border[margin:height - margin, margin:width - margin] = True
    valid = border & (interior | ~near_edge)
    return KnownMotionPair(f"two objects +-{shift} px", prev, nxt, flow, valid)


def standard_pairs(height: int = 120, width: int = 160) -> list[KnownMotionPair]:
    """The four known-motion cases used by the tests and the speed benchmark."""
    return [translation_pair(height, width), rotation_pair(height, width), zoom_pair(height, width),
            two_objects_pair(height, width)]
