"""Steadier joints: an online One-Euro filter per track and joint, and offline Savitzky-Golay over finished tracks.

Online (``OneEuroSmoother``): the One-Euro filter of Casiez, Roussel and Vogel (CHI 2012), a low-pass filter whose
cutoff rises with the joint's speed, so slow joints lose their jitter and fast ones keep up. It runs on the frames'
real times in seconds (``frame index / fps``), so one setting works at any frame rate. State is keyed by track id;
a joint scoring below the output threshold is passed through unfiltered and leaves its state untouched, a joint
seen again within ``RESET_SECONDS`` goes on from its state with the real time step, and one unseen for longer (an
id that vanished and came back, or a joint hidden for a while) starts afresh from its new position; ids unseen for
``RESET_SECONDS`` are dropped, so memory stays bounded.

Offline (``savgol_tracks``): ``scipy.signal.savgol_filter`` over each finished track, joint by joint, on every run
of consecutive frames where the joint is present and the run is at least the window long (the overlay re-render's
``--smooth``).

Config: the ``smoothing`` section (``configs/track/default.yaml``); ``online: auto`` filters the outputs of
``tracker.run --video`` (JSON, CSV, overlays) and leaves submission mode, tracking-only mode and ``tracker.track``
raw. The raw keypoints stay in ``TrackedFrame.raw_keypoints``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from tracker.types import Poses, TrackedFrame

RESET_SECONDS = 0.5         # a joint (or a whole track) unseen this long starts afresh
ONLINE_MODES = ("auto", "on", "off")


def online_enabled(mode: str, default: bool) -> bool:
    """Whether to filter online: ``on`` / ``off``, or for ``auto`` the caller's default (its mode's rule)."""
    if mode not in ONLINE_MODES:
        raise ValueError(f"smoothing.online must be one of {', '.join(ONLINE_MODES)}, got {mode!r}")
    return default if mode == "auto" else mode == "on"


def _alpha(cutoff: np.ndarray, dt: np.ndarray) -> np.ndarray:
    """Exponential smoothing factor of a first-order low-pass filter with ``cutoff`` Hz at time step ``dt`` s."""
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


@dataclass
class _JointState:
    """One track's filter state: value (K, 2), derivative (K, 2), time (K,) of each joint's last update."""

    value: np.ndarray
    derivative: np.ndarray
    time: np.ndarray
    last_seen: float


class OneEuroSmoother:
    """Online One-Euro filter of (N, K, 2) keypoints keyed by track id.

    min_cutoff: Hz at rest; beta: cutoff increase per pixel/s of joint speed; d_cutoff: Hz of the speed estimate
    (Casiez et al.'s default 1 Hz); joint_threshold: joints scoring below it are not filtered.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0,
                 joint_threshold: float = 0.0):
        if min_cutoff <= 0 or beta < 0 or d_cutoff <= 0:
            raise ValueError("One-Euro needs min_cutoff > 0, d_cutoff > 0 and beta >= 0")
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.joint_threshold = joint_threshold
        self.states: dict[int, _JointState] = {}

    def __call__(self, time_s: float, track_ids: np.ndarray, keypoints: np.ndarray, scores: np.ndarray
                 ) -> np.ndarray:
        """The filtered keypoints (N, K, 2) of one frame at ``time_s`` seconds."""
        keypoints = np.asarray(keypoints, np.float64)
        out = keypoints.copy()
        for n, tid in enumerate(np.asarray(track_ids, np.int64)):
            valid = np.asarray(scores[n]) >= self.joint_threshold
            out[n] = self._filter(int(tid), time_s, keypoints[n], valid)
        for tid in [t for t, s in self.states.items() if time_s - s.last_seen > RESET_SECONDS]:
            del self.states[tid]
        return out.astype(np.float32)

    def _filter(self, tid: int, time_s: float, x: np.ndarray, valid: np.ndarray) -> np.ndarray:
        state = self.states.get(tid)
        if state is None:
            k = len(x)
            state = self.states[tid] = _JointState(x.copy(), np.zeros((k, 2)), np.full(k, np.nan), time_s)
        state.last_seen = time_s
        stale = ~(time_s - state.time <= RESET_SECONDS)   # never seen (nan) or unseen too long
        fresh = valid & stale                             # taken as is, speed 0
        update = valid & ~stale & (time_s > state.time)
        state.value[fresh], state.derivative[fresh], state.time[fresh] = x[fresh], 0.0, time_s
        out = x.copy()
        if update.any():
            dt = (time_s - state.time[update])[:, None]
            previous = state.value[update]
            derivative = (x[update] - previous) / dt
            a_d = _alpha(np.full_like(dt, self.d_cutoff), dt)
            derivative = a_d * derivative + (1 - a_d) * state.derivative[update]
            cutoff = self.min_cutoff + self.beta * np.linalg.norm(derivative, axis=1, keepdims=True)
            a = _alpha(cutoff, dt)
            filtered = a * x[update] + (1 - a) * previous
            state.value[update], state.derivative[update], state.time[update] = filtered, derivative, time_s
            out[update] = filtered
        return out


def savgol_series(values: np.ndarray, present: np.ndarray, window: int, order: int) -> np.ndarray:
    """Savitzky-Golay of a (T, 2) series over each run of consecutive present rows at least ``window`` long."""
    from scipy.signal import savgol_filter

    out = np.array(values, np.float64)
    edges = np.flatnonzero(np.diff(np.r_[0, present.astype(np.int8), 0]))
    for start, stop in zip(edges[::2], edges[1::2]):
        if stop - start >= window:
            out[start:stop] = savgol_filter(out[start:stop], window, order, axis=0)
    return out


def savgol_tracks(frames: list[TrackedFrame], window: int = 9, order: int = 2, joint_threshold: float = 0.0
                  ) -> list[TrackedFrame]:
    """Finished tracks filtered joint by joint (frames in order, one per index); raw keypoints kept."""
    if window < 3 or window % 2 == 0 or not 0 <= order < window:
        raise ValueError(f"the Savitzky-Golay window must be odd and >= 3 and the order below it, got "
                         f"window {window}, order {order}")
    smoothed = [f.poses.keypoints.astype(np.float64).copy() for f in frames]
    ids = sorted({int(i) for f in frames for i in f.track_ids})
    for tid in ids:
        rows = [(t, int(np.flatnonzero(f.track_ids == tid)[0])) for t, f in enumerate(frames) if tid in f.track_ids]
        if len(rows) < window:
            continue
        k = frames[rows[0][0]].poses.num_joints
        for j in range(k):
            # one slot per frame from the track's first to last frame, so gaps in the track break the runs
            first, last = rows[0][0], rows[-1][0]
            series = np.zeros((last - first + 1, 2))
            present = np.zeros(last - first + 1, bool)
            for t, n in rows:
                series[t - first] = frames[t].poses.keypoints[n, j]
                present[t - first] = frames[t].poses.scores[n, j] > joint_threshold
            filtered = savgol_series(series, present, window, order)
            for t, n in rows:
                if present[t - first]:
                    smoothed[t][n, j] = filtered[t - first]
    return [replace(f, poses=Poses(kp, f.poses.scores, f.poses.boxes, f.poses.box_scores),
                    raw_keypoints=f.poses.keypoints) for f, kp in zip(frames, smoothed)]
