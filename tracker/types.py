"""The per-frame data that flows between pipeline stages: plain numpy arrays in small frozen dataclasses.

No framework object (tensor, video handle) crosses a stage. Shapes: N people, K joints.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

# Where a person box came from (``Boxes.source``).
SOURCE_DETECTED = 0
SOURCE_PROPAGATED = 1
SOURCE_NAMES = {SOURCE_DETECTED: "detected", SOURCE_PROPAGATED: "propagated"}


def _as_array(value, dtype, shape_tail: tuple[int, ...], what: str) -> np.ndarray:
    array = np.asarray(value, dtype=dtype)
    if array.size == 0:
        array = array.reshape((0, *shape_tail))
    if array.ndim != 1 + len(shape_tail) or array.shape[1:] != shape_tail:
        raise ValueError(f"{what} must have shape (N, {', '.join(map(str, shape_tail))}), got {array.shape}")
    return array


@dataclass(frozen=True)
class Frame:
    """One decoded video frame. ``image``: (H, W, 3) uint8 RGB."""

    index: int
    image: np.ndarray
    video_id: str = ""

    def __post_init__(self):
        if self.image.ndim != 3 or self.image.shape[2] != 3 or self.image.dtype != np.uint8:
            raise ValueError(f"Frame.image must be (H, W, 3) uint8 RGB, got {self.image.shape} {self.image.dtype}")

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.image.shape[1], self.image.shape[0]


@dataclass(frozen=True)
class Boxes:
    """Person boxes. ``xyxy``: (N, 4) float32 corners; ``scores``: (N,); ``source``: (N,) SOURCE_* codes."""

    xyxy: np.ndarray
    scores: np.ndarray
    source: np.ndarray

    def __post_init__(self):
        xyxy = _as_array(self.xyxy, np.float32, (4,), "Boxes.xyxy")
        n = len(xyxy)
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "scores", _as_array(self.scores, np.float32, (), "Boxes.scores").reshape(n))
        object.__setattr__(self, "source", _as_array(self.source, np.int8, (), "Boxes.source").reshape(n))

    @classmethod
    def empty(cls) -> "Boxes":
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int8))

    @classmethod
    def detected(cls, xyxy, scores) -> "Boxes":
        xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4)
        return cls(xyxy, scores, np.full(len(xyxy), SOURCE_DETECTED, np.int8))

    def __len__(self) -> int:
        return len(self.xyxy)

    def select(self, index) -> "Boxes":
        return Boxes(self.xyxy[index], self.scores[index], self.source[index])

    @classmethod
    def cat(cls, parts: Sequence["Boxes"]) -> "Boxes":
        """The boxes of ``parts``, one after another."""
        if not parts:
            return cls.empty()
        return cls(np.concatenate([b.xyxy for b in parts]), np.concatenate([b.scores for b in parts]),
                   np.concatenate([b.source for b in parts]))


@dataclass(frozen=True)
class Poses:
    """People's poses in image pixels.

    keypoints: (N, K, 2) x, y; scores: (N, K) per-joint confidence; boxes: (N, 4) xyxy the pose was estimated
    in; box_scores: (N,).
    """

    keypoints: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    box_scores: np.ndarray

    def __post_init__(self):
        keypoints = np.asarray(self.keypoints, np.float32)
        if keypoints.size == 0:
            keypoints = keypoints.reshape(0, keypoints.shape[1] if keypoints.ndim == 3 else 0, 2)
        if keypoints.ndim != 3 or keypoints.shape[2] != 2:
            raise ValueError(f"Poses.keypoints must have shape (N, K, 2), got {keypoints.shape}")
        n, k = keypoints.shape[:2]
        scores = np.asarray(self.scores, np.float32).reshape(n, k)
        object.__setattr__(self, "keypoints", keypoints)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "boxes", _as_array(self.boxes, np.float32, (4,), "Poses.boxes").reshape(n, 4))
        object.__setattr__(self, "box_scores", np.asarray(self.box_scores, np.float32).reshape(n))

    @classmethod
    def empty(cls, num_joints: int) -> "Poses":
        return cls(np.zeros((0, num_joints, 2)), np.zeros((0, num_joints)), np.zeros((0, 4)), np.zeros(0))

    def __len__(self) -> int:
        return len(self.keypoints)

    @property
    def num_joints(self) -> int:
        return self.keypoints.shape[1]

    def select(self, index) -> "Poses":
        return Poses(self.keypoints[index], self.scores[index], self.boxes[index], self.box_scores[index])

    def with_keypoints(self, keypoints: np.ndarray, scores: np.ndarray) -> "Poses":
        """The same people (boxes, box scores) with other joints: moved by flow, or in another layout."""
        return Poses(keypoints, scores, self.boxes, self.box_scores)

    @classmethod
    def cat(cls, parts: Sequence["Poses"]) -> "Poses":
        """The poses of ``parts`` (at least one, all with the same number of joints), one after another."""
        if not parts:
            raise ValueError("Poses.cat needs at least one Poses (its joint count); use Poses.empty(K) for none")
        return cls(np.concatenate([p.keypoints for p in parts]), np.concatenate([p.scores for p in parts]),
                   np.concatenate([p.boxes for p in parts]), np.concatenate([p.box_scores for p in parts]))


@dataclass(frozen=True)
class TrackedFrame:
    """The pipeline's output for one frame.

    ``poses`` and ``track_ids`` (N,) are what the JSON writer needs. The rest is what the overlay renderer
    draws: the detector's boxes, the boxes propagated from the previous frame by flow, the boxes that NMS
    removed, the flow-propagated previous poses each current pose was matched to (``matched_from``: (N,)
    index into ``propagated_poses`` or -1), and, when asked for, the flow magnitude (H, W), the flow field
    (H, W, 2) and the pose network's heatmaps (N, K, h, w). ``time_s``: the frame's time in seconds (index / fps);
    ``raw_keypoints``: (N, K, 2) the keypoints before smoothing (``tracker.smoothing``) when ``poses`` are smoothed,
    else None; ``box_sources``: (N,) SOURCE_* code of each pose's box (None for poses given in tracking-only mode).
    """

    index: int
    poses: Poses
    track_ids: np.ndarray
    detected_boxes: Boxes = field(default_factory=Boxes.empty)
    propagated_boxes: Boxes = field(default_factory=Boxes.empty)
    suppressed_boxes: Boxes = field(default_factory=Boxes.empty)
    propagated_poses: Poses | None = None
    matched_from: np.ndarray | None = None
    flow_magnitude: np.ndarray | None = None
    video_id: str = ""
    flow: np.ndarray | None = None
    heatmaps: np.ndarray | None = None
    time_s: float | None = None
    raw_keypoints: np.ndarray | None = None
    box_sources: np.ndarray | None = None

    def __post_init__(self):
        ids = np.asarray(self.track_ids, np.int64).reshape(-1)
        if len(ids) != len(self.poses):
            raise ValueError(f"TrackedFrame has {len(self.poses)} poses but {len(ids)} track ids")
        object.__setattr__(self, "track_ids", ids)


# The stage interfaces a ``Tracker`` runs (``tracker.components`` builds them from a config):
# a detector: Frame -> person Boxes;
Detector = Callable[[Frame], Boxes]
# a flow estimator: (prev_rgb, next_rgb) (H, W, 3) uint8 -> (H, W, 2) float32 displacement of each prev pixel;
FlowEstimator = Callable[[np.ndarray, np.ndarray], np.ndarray]
# a pose estimator: (image (H, W, 3) RGB, boxes (N, 4) xyxy) -> keypoints (N, K, 2), scores (N, K).
PoseEstimator = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
