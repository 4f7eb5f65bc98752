"""Giving poses track ids: similarity to recent tracks, greedy matching, new ids for the rest (FlowTrack).

Simple Baselines (Xiao et al. 2018, sec. 3.3), used by HRNet for PoseTrack: each pose of frame t is compared with
the poses of the tracks seen in the last frames, moved to frame t by optical flow; pairs are matched greedily in
order of decreasing similarity, and poses left unmatched start new tracks.

The similarity is selectable, for the paper's ablation (``AssociationConfig.similarity``):

- ``box_iou``: IoU of the current pose's box with the track's last box (no flow);
- ``oks``: OKS of the current pose with the track's last pose (no flow);
- ``flow_oks``: the paper's S_flow, OKS with the poses of frame t-1 moved to frame t by flow (two frames only: a
  track missing from frame t-1 cannot be matched);
- ``multi_flow_oks``: the paper's S_multi-flow, OKS with every stored pose of the track (all frames of the memory),
  each moved to frame t by flow; a track's similarity is the best of them.

Memory: with ``multi_flow_oks``, ``oks`` and ``box_iou`` a track unseen for up to ``memory`` (L) consecutive frames
can still be matched (``oks`` and ``box_iou`` compare with its latest pose); poses older than that are forgotten, so
the state is bounded whatever the video length.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flow.propagate import propagate_keypoints
from pose.similarity import oks_matrix
from tracker.boxes import box_iou_matrix
from tracker.config import SIMILARITIES, AssociationConfig
from tracker.reentry import Reentry
from tracker.types import Poses

FLOW_SIMILARITIES = ("flow_oks", "multi_flow_oks")
DEFAULT_FPS = 25.0   # frame rate assumed for re-entry times when none is given


@dataclass(frozen=True)
class Association:
    """Track ids of one frame's N poses: ``track_ids`` (N,), ``matched_from`` (N,) index into ``candidates`` (-1 for
    a new track), ``candidates``: the stored poses compared with, moved to this frame when flow is used."""

    track_ids: np.ndarray
    matched_from: np.ndarray
    candidates: Poses


def greedy_match(similarity: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Greedy bipartite matching: repeatedly take the most similar free pair, while similarity > ``threshold``.

    similarity: (M, N). Returns rows (P,) and cols (P,) of the matched pairs, in the order greedy takes them.
    Ties go to the pair that comes first in row-major order.

    Vectorised: greedy-by-descending-value equals repeatedly taking every pair that is the best of both its row and
    its column ("mutual best") among the free rows and columns, so each round is a couple of arg-max calls. Values are
    replaced by their rank first (a strict total order), which makes ties break as in the sequential algorithm.
    """
    similarity = np.asarray(similarity, dtype=np.float64)
    if similarity.ndim != 2:
        raise ValueError(f"similarity must be a (M, N) matrix, got shape {similarity.shape}")
    m, n = similarity.shape
    if m == 0 or n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    flat = similarity.ravel()
    # rank 0 = the pair greedy takes first: highest value, then lowest row-major index (stable sort of -value)
    order = np.argsort(-flat, kind="stable")
    rank = np.empty(m * n, np.int64)
    rank[order] = np.arange(m * n)
    rank = rank.reshape(m, n)
    eligible = similarity > threshold
    big = m * n  # rank of an unavailable pair
    rank = np.where(eligible, rank, big)

    rows_out, cols_out, rank_out = [], [], []
    while True:
        best_col = rank.argmin(axis=1)                       # (M,)
        best_row = rank.argmin(axis=0)                       # (N,)
        row_ids = np.arange(m)
        mutual = (best_row[best_col] == row_ids) & (rank[row_ids, best_col] < big)
        if not mutual.any():
            break
        rows, cols = row_ids[mutual], best_col[mutual]
        rows_out.append(rows)
        cols_out.append(cols)
        rank_out.append(rank[rows, cols])
        rank[rows, :] = big
        rank[:, cols] = big
    if not rows_out:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    rows, cols, ranks = np.concatenate(rows_out), np.concatenate(cols_out), np.concatenate(rank_out)
    taken = np.argsort(ranks)
    return rows[taken].astype(np.int64), cols[taken].astype(np.int64)


def box_areas(boxes: np.ndarray) -> np.ndarray:
    """Areas (N,) of xyxy boxes (N, 4)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def pose_similarity(current: Poses, stored: Poses, method: str, sigmas: np.ndarray,
                    joint_threshold: float, area_scale: float = 1.0) -> np.ndarray:
    """Similarity (N, P) of N current poses with P stored (possibly flow-moved) poses.

    ``box_iou``: IoU of their boxes; otherwise OKS over the joints scoring above ``joint_threshold`` in both poses
    (0 where none), object area = ``area_scale`` x the mean of the two boxes' areas (as the official ``oks_iou``).
    """
    if method == "box_iou":
        return box_iou_matrix(current.boxes, stored.boxes)
    a = np.concatenate([current.keypoints, current.scores[..., None]], axis=-1)
    b = np.concatenate([stored.keypoints, stored.scores[..., None]], axis=-1)
    return oks_matrix(a, b, area_scale * box_areas(current.boxes), area_scale * box_areas(stored.boxes),
                      sigmas=sigmas, in_vis_thre=joint_threshold, both_visible=True)


class Associator:
    """Online track-id assignment, one frame at a time.

    Keeps, for the last ``memory`` + 1 frames, every tracked pose (keypoints, scores, box) with its track id and
    frame; with a flow-based similarity each stored pose is moved forward by every new frame's flow.
    sigmas: (K,) OKS sigmas of the pose layout; joint_names: the layout's joint names, needed by re-entry
    (``config.lost_seconds`` > 0, ``tracker.reentry``), which runs after the greedy matching.
    """

    def __init__(self, config: AssociationConfig, sigmas: np.ndarray, joint_names: tuple[str, ...] | None = None):
        if config.similarity not in SIMILARITIES:
            raise ValueError(f"unknown similarity {config.similarity!r}; choose one of {', '.join(SIMILARITIES)}")
        self.config = config
        self.sigmas = np.asarray(sigmas, np.float64)
        self.next_id = 0
        k = len(self.sigmas)
        self._poses = Poses.empty(k)           # stored poses, moved to the last frame seen when flow is used
        self._ids = np.zeros(0, np.int64)      # (P,) track id of each stored pose
        self._frames = np.zeros(0, np.int64)   # (P,) frame each stored pose was estimated in
        self._previous_frame: int | None = None  # index of the frame of the last step (frame t-1)
        self.reentry = Reentry(config, joint_names) if config.lost_seconds > 0 and joint_names else None

    @property
    def uses_flow(self) -> bool:
        return self.config.similarity in FLOW_SIMILARITIES

    def step(self, frame_index: int, poses: Poses, flow: np.ndarray | None = None,
             image: np.ndarray | None = None, time_s: float | None = None) -> Association:
        """Track ids for the poses of frame ``frame_index``.

        poses: the frame's N poses; flow: (H, W, 2) from the previous frame to this one (needed by the flow
        similarities); image: the frame (H, W, 3) RGB and time_s its time in seconds (default frame_index / 25),
        for re-entry.
        """
        if self.uses_flow and flow is None and len(self._ids):
            raise ValueError(f"similarity {self.config.similarity} needs the flow from the previous frame")
        self._forget(frame_index)
        if self.uses_flow and len(self._ids):
            moved, moved_scores = propagate_keypoints(self._poses.keypoints, flow, self._poses.scores)
            self._poses = self._poses.with_keypoints(moved, moved_scores)

        candidates = self._candidates()
        candidate_poses = self._poses.select(candidates)
        candidate_ids = self._ids[candidates]
        track_ids = np.full(len(poses), -1, np.int64)
        matched_from = np.full(len(poses), -1, np.int64)
        if len(poses) and len(candidates):
            similarity = pose_similarity(poses, candidate_poses, self.config.similarity, self.sigmas,
                                         self.config.joint_threshold, self.config.area_scale)
            tracks, column_of = np.unique(candidate_ids, return_inverse=True)
            per_track = np.full((len(tracks), len(poses)), -np.inf)
            np.maximum.at(per_track, column_of, similarity.T)      # (T, N): best stored pose of each track
            rows, cols = greedy_match(per_track.T, self.config.match_threshold)
            track_ids[rows] = tracks[cols]
            for row, col in zip(rows, cols):
                of_track = np.flatnonzero(column_of == col)
                matched_from[row] = of_track[np.argmax(similarity[row, of_track])]
        time_s = frame_index / DEFAULT_FPS if time_s is None else time_s
        if self.reentry is not None:
            track_ids, renames = self.reentry.match(time_s, poses, track_ids, image)
            for young, old in renames.items():
                self._ids[self._ids == young] = old
        new = track_ids < 0
        track_ids[new] = self.next_id + np.arange(new.sum())
        self.next_id += int(new.sum())
        self._remember(frame_index, poses, track_ids)
        self._previous_frame = frame_index
        if self.reentry is not None:
            self.reentry.observe(time_s, track_ids)
        return Association(track_ids, matched_from, candidate_poses)

    def _forget(self, frame_index: int) -> None:
        """Drop poses from frames more than memory + 1 frames back (tracks unseen for more than L frames)."""
        keep = frame_index - self._frames <= self.config.memory + 1
        if not keep.all():
            self._poses, self._ids, self._frames = self._poses.select(keep), self._ids[keep], self._frames[keep]

    def _candidates(self) -> np.ndarray:
        """Indices of the stored poses to compare with: all of them for multi-frame flow OKS, those of frame t-1
        for flow OKS (S_flow is a two-frame similarity), else each track's latest."""
        if self.config.similarity == "multi_flow_oks" or not len(self._ids):
            return np.arange(len(self._ids))
        if self.config.similarity == "flow_oks":
            return np.flatnonzero(self._frames == self._previous_frame)
        # latest pose per track: sort by (track, frame) and take the last row of each track
        order = np.lexsort((self._frames, self._ids))
        last = np.r_[self._ids[order][1:] != self._ids[order][:-1], True]
        return np.sort(order[last])

    def _remember(self, frame_index: int, poses: Poses, track_ids: np.ndarray) -> None:
        if not len(poses):
            return
        self._poses = Poses.cat([self._poses, poses])
        self._ids = np.concatenate([self._ids, track_ids])
        self._frames = np.concatenate([self._frames, np.full(len(poses), frame_index, np.int64)])
