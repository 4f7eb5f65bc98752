"""Re-entry: a person who leaves the view or is hidden for seconds gets their old track id back.

The FlowTrack matching (``tracker.associate``) remembers a track for ``association.memory`` frames. Here a track
that was not seen in a frame is *lost*, not dead, for ``association.lost_seconds`` (seconds, so it holds at any
frame rate). After the FlowTrack matching, the poses it left unmatched, and the poses of *young* tracks (started
less than ``YOUNG_SECONDS`` ago: a person who came back half-visible and got a new id before their description was
good), are matched to the lost tracks by a combined cost with ``scipy.optimize.linear_sum_assignment``; pairs
above ``association.reentry_max_cost`` are not matched. Only the poses left over start new ids.

Cues (each in [0, 1], each switched off by its ``association.reentry_*`` key; the cost is the mean of the cues that
have data for the pair):

- ``motion``: a constant-velocity model of the track's box centre (pixels per second, a least-squares fit over its
  last ``VELOCITY_SECONDS``) predicts where the person is now, clamped into the image, since a person who walked
  out comes back through the edge where they left. Cost = distance to the pose's box centre / (torso-size radius
  growing with the time lost); a pose farther than the radius is gated out.
- ``shape``: limb lengths (upper arm, forearm, thigh, shin) divided by the torso length, averaged over the track's
  frames; cost = mean absolute log ratio / ``SHAPE_SCALE``.
- ``colour``: hue-saturation histograms of the torso and the legs (pixels inside the torso quadrilateral and along
  the leg segments); cost = mean Bhattacharyya distance (``cv2.compareHist``).

No extra network is needed. The state per track is a few small arrays, and tracks lost for longer than
``lost_seconds`` are dropped, so memory does not grow with the video.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from tracker.config import AssociationConfig
from tracker.types import Poses

# Motion gate radius in torso lengths: MOTION_RADIUS at once, plus MOTION_GROWTH per second lost (walking speed is
# about 1.4 m/s, about 2.5 torso lengths per second; the model's velocity takes most of it).
MOTION_RADIUS = 3.0
MOTION_GROWTH = 2.0
VELOCITY_SECONDS = 0.5      # the velocity is fitted over the last half second of a track
SHAPE_SCALE = 0.3           # a mean |log ratio| of 0.3 (limbs 35 % longer relative to the torso) costs 1
YOUNG_SECONDS = 1.0         # a track this young may still be given a lost track's id
MIN_APPEARANCE_JOINTS = 10  # a pose with fewer confident joints (half hidden, at the border) has no shape or colour
MIN_REENTRY_JOINTS = 1      # a pose with fewer confident joints is not matched to lost tracks (a new id, as before)
DESCRIPTOR_RATE = 0.2       # exponential moving average weight of each new shape / colour observation
HUE_BINS, SAT_BINS = 12, 4
LIMBS = (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle"))


@dataclass(frozen=True)
class Description:
    """What re-entry knows of one pose: centre (2,) (of its box, or of its confident joints when the box is empty;
    nan without any), torso length, limb ratios (4,) (nan where not seen), torso / legs histograms
    (2, HUE_BINS * SAT_BINS) (nan rows where not seen) and its number of confident joints."""

    centre: np.ndarray
    torso: float
    shape: np.ndarray
    colour: np.ndarray
    joints: int = 0


@dataclass
class _Track:
    """A track's history: recent (time, centre) pairs, its averaged shape and colour, its birth time and the
    time it was last seen."""

    born: float
    last_seen: float = 0.0
    times: list = field(default_factory=list)
    centres: list = field(default_factory=list)
    torso: float = 0.0
    shape: np.ndarray | None = None
    colour: np.ndarray | None = None
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))   # pixels per second, see _fit_velocity

    def observe(self, time_s: float, description: Description) -> None:
        self.last_seen = time_s
        if not np.isfinite(description.centre).all():
            return
        self.times.append(time_s)
        self.centres.append(description.centre)
        while len(self.times) > 2 and self.times[-1] - self.times[0] > VELOCITY_SECONDS:
            self.times.pop(0)
            self.centres.pop(0)
        self.velocity = self._fit_velocity()
        self.torso = _blend_scalar(self.torso, description.torso)
        self.shape = _blend(self.shape, description.shape)
        self.colour = _blend(self.colour, description.colour)

    def _fit_velocity(self) -> np.ndarray:
        """(2,) pixels per second, least squares over the stored centres (0 with a single one)."""
        t = np.asarray(self.times, np.float64)
        if len(t) < 2 or np.ptp(t) <= 0:
            return np.zeros(2)
        c = np.asarray(self.centres, np.float64)
        dt = t - t.mean()
        return (dt[:, None] * (c - c.mean(axis=0))).sum(axis=0) / (dt ** 2).sum()


def _blend(old: np.ndarray | None, new: np.ndarray) -> np.ndarray:
    """Moving average that ignores nan observations and starts from the first real one."""
    if old is None:
        return new.copy()
    return np.where(np.isnan(new), old, np.where(np.isnan(old), new, (1 - DESCRIPTOR_RATE) * old
                                                 + DESCRIPTOR_RATE * new))


def _blend_scalar(old: float, new: float) -> float:
    if not np.isfinite(new) or new <= 0:
        return old
    return new if old <= 0 else (1 - DESCRIPTOR_RATE) * old + DESCRIPTOR_RATE * new


def predict_centres(tracks: list[_Track], time_s: float, frame_size: tuple[int, int] | None) -> np.ndarray:
    """(L, 2) where the constant-velocity model puts each track's centre at ``time_s``, clamped into the frame
    (nan for a track never seen with a centre)."""
    last = np.array([t.centres[-1] if t.centres else (np.nan, np.nan) for t in tracks], np.float64).reshape(-1, 2)
    seen = np.array([t.times[-1] if t.times else np.nan for t in tracks], np.float64)
    velocity = np.array([t.velocity for t in tracks], np.float64).reshape(-1, 2)
    centres = last + velocity * (time_s - seen)[:, None]
    if frame_size is not None:
        centres = np.clip(centres, 0, np.asarray(frame_size, np.float64))
    return centres


class PoseDescriber:
    """Box centre, torso length, limb ratios and colour histograms of poses in a keypoint layout."""

    def __init__(self, joint_names: tuple[str, ...], joint_threshold: float):
        index = {name: i for i, name in enumerate(joint_names)}
        sides = ("left", "right")
        try:
            self.shoulders = [index[f"{s}_shoulder"] for s in sides]
            self.hips = [index[f"{s}_hip"] for s in sides]
            self.limbs = [[(index[f"{s}_{a}"], index[f"{s}_{b}"]) for s in sides] for a, b in LIMBS]
            self.legs = [(index[f"{s}_hip"], index[f"{s}_knee"], index[f"{s}_ankle"]) for s in sides]
        except KeyError as missing:
            raise ValueError(f"re-entry needs shoulder, elbow, wrist, hip, knee and ankle joints; the layout has no "
                             f"{missing}") from None
        self.threshold = joint_threshold

    def __call__(self, poses: Poses, image: np.ndarray | None) -> list[Description]:
        hsv = None
        if image is not None and image.shape[0] > 1 and image.shape[1] > 1:
            hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
        return [self._describe(kp, sc, box, hsv) for kp, sc, box in zip(poses.keypoints, poses.scores, poses.boxes)]

    def _describe(self, kp: np.ndarray, sc: np.ndarray, box: np.ndarray, hsv: np.ndarray | None) -> Description:
        ok = sc > self.threshold
        if (box[2] - box[0]) * (box[3] - box[1]) > 0:
            centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], np.float64)
        else:
            centre = kp[ok].mean(axis=0).astype(np.float64) if ok.any() else np.full(2, np.nan)
        sides = [np.linalg.norm(kp[s] - kp[h]) for s, h in zip(self.shoulders, self.hips) if ok[s] and ok[h]]
        torso = float(np.mean(sides)) if sides else float("nan")
        shape = np.full(len(self.limbs), np.nan)
        colour = np.full((2, HUE_BINS * SAT_BINS), np.nan, np.float32)
        if ok.sum() < MIN_APPEARANCE_JOINTS:        # a partial view would describe the occluder, not the person
            return Description(centre, torso, shape, colour, int(ok.sum()))
        for i, pairs in enumerate(self.limbs):
            lengths = [np.linalg.norm(kp[a] - kp[b]) for a, b in pairs if ok[a] and ok[b]]
            if lengths and np.isfinite(torso) and torso > 1:
                shape[i] = np.log(max(np.mean(lengths), 1e-3) / torso)
        if hsv is not None and np.isfinite(torso) and torso > 4:
            colour[0] = self._histogram(hsv, [kp[j] for j in (*self.shoulders, *self.hips[::-1])
                                              if ok[j]], polygon=True)
            leg_points = [[kp[j] for j in leg if ok[j]] for leg in self.legs]
            colour[1] = self._histogram(hsv, leg_points, polygon=False, width=max(2, int(0.25 * torso)))
        return Description(centre, torso, shape, colour, int(ok.sum()))

    @staticmethod
    def _histogram(hsv: np.ndarray, points, polygon: bool, width: int = 1) -> np.ndarray:
        """Normalised hue-saturation histogram of the pixels in a quadrilateral or along polylines (nan if none).

        Drawn and counted inside the shapes' bounding rectangle only (the same pixels as a whole-frame mask)."""
        nothing = np.full(HUE_BINS * SAT_BINS, np.nan, np.float32)
        if polygon:
            shapes = [np.round(np.array(points)).astype(np.int32)] if len(points) >= 4 else []
        else:
            shapes = [np.round(np.array(p)).astype(np.int32) for p in points if len(p) >= 2]
        if not shapes:
            return nothing
        margin = 0 if polygon else width // 2 + 1
        corners = np.concatenate(shapes)
        x0, y0 = np.maximum(corners.min(axis=0) - margin, 0)
        x1, y1 = np.minimum(corners.max(axis=0) + margin + 1, (hsv.shape[1], hsv.shape[0]))
        if x1 <= x0 or y1 <= y0:
            return nothing
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        shapes = [shape - np.array([x0, y0], np.int32) for shape in shapes]
        if polygon:
            cv2.fillConvexPoly(mask, shapes[0], 255)
        else:
            cv2.polylines(mask, shapes, False, 255, width)
        if cv2.countNonZero(mask) < 20:
            return nothing
        region = np.ascontiguousarray(hsv[y0:y1, x0:x1])
        hist = cv2.calcHist([region], [0, 1], mask, [HUE_BINS, SAT_BINS], [0, 180, 0, 256]).ravel()
        return (hist / hist.sum()).astype(np.float32)


class Reentry:
    """Lost tracks and their matching to unmatched poses; used by ``Associator.step`` after the FlowTrack match."""

    def __init__(self, config: AssociationConfig, joint_names: tuple[str, ...]):
        self.config = config
        self.describe = PoseDescriber(tuple(joint_names), config.joint_threshold)
        self.tracks: dict[int, _Track] = {}
        self._pending: list[Description] = []   # this frame's descriptions, for observe()

    def match(self, time_s: float, poses: Poses, track_ids: np.ndarray, image: np.ndarray | None
              ) -> tuple[np.ndarray, dict[int, int]]:
        """Give lost tracks' ids to unmatched poses (track id -1) and to young tracks' poses.

        Returns the updated ids (N,) (-1 left for new tracks) and the renames {young id: lost id} the associator
        applies to its memory. The caller then gives the final ids to :meth:`observe`, which records this frame's
        poses under them.
        """
        self._forget(time_s)
        track_ids = np.asarray(track_ids, np.int64).copy()
        descriptions = self.describe(poses, image if self.config.reentry_colour else None)  # no colour: no HSV
        self._pending = descriptions
        seen = set(int(i) for i in track_ids if i >= 0)
        rows = [i for i, tid in enumerate(track_ids) if (tid < 0 or self._is_young(int(tid), time_s))
                and descriptions[i].joints >= MIN_REENTRY_JOINTS]
        lost = [tid for tid, track in self.tracks.items() if tid not in seen and track.last_seen < time_s]
        renames: dict[int, int] = {}
        if not rows or not lost:
            return track_ids, renames
        size = None if image is None or image.shape[0] <= 1 else (image.shape[1], image.shape[0])
        cost = self.cost([descriptions[i] for i in rows], [int(track_ids[i]) for i in rows], lost, time_s, size)
        r, c = linear_sum_assignment(np.where(np.isfinite(cost), cost, 1e6))
        for ri, ci in zip(r, c):
            if not np.isfinite(cost[ri, ci]):
                continue
            pose, old = rows[ri], lost[ci]
            if track_ids[pose] >= 0:
                renames[int(track_ids[pose])] = old
            track_ids[pose] = old
        for young, old in renames.items():  # the young track's history is the lost track's from now on
            self.tracks.pop(young, None)
        return track_ids, renames

    def observe(self, time_s: float, track_ids: np.ndarray) -> None:
        """Record the poses of the last :meth:`match` call under their final ids."""
        for tid, description in zip(track_ids, self._pending):
            track = self.tracks.setdefault(int(tid), _Track(born=time_s))
            track.observe(time_s, description)

    def cost(self, poses: list[Description], pose_ids: list[int], lost: list[int], time_s: float,
             frame_size: tuple[int, int] | None) -> np.ndarray:
        """(P, L) combined cost of P pose descriptions against L lost tracks; inf where gated out."""
        cfg = self.config
        tracks = [self.tracks[tid] for tid in lost]
        last_seen = np.array([t.last_seen for t in tracks])
        # both seen at once (the lost track after the pose's own track was born): two people, not one who came back
        born = np.array([self.tracks[pid].born if pid >= 0 else np.inf for pid in pose_ids])
        gated = last_seen[None, :] >= born[:, None]
        parts = []
        if cfg.reentry_motion:
            predicted = predict_centres(tracks, time_s, frame_size)
            centres = np.array([p.centre for p in poses], np.float64).reshape(len(poses), 2)
            track_torso = np.array([t.torso for t in tracks])
            pose_torso = np.array([p.torso for p in poses])
            torso = np.where(track_torso[None, :] > 0, track_torso[None, :], pose_torso[:, None])
            radius = torso * (MOTION_RADIUS + MOTION_GROWTH * (time_s - last_seen[None, :]))
            distance = np.linalg.norm(centres[:, None] - predicted[None, :], axis=2)
            with np.errstate(invalid="ignore", divide="ignore"):
                motion = np.where(np.isfinite(torso) & (torso > 0), distance / radius, np.nan)
            gated |= motion > 1
            parts.append(np.minimum(motion, 1))
        if cfg.reentry_shape:
            pose_shape = np.array([p.shape for p in poses], np.float64).reshape(len(poses), len(self.describe.limbs))
            track_shape = np.array([np.full(pose_shape.shape[1], np.nan) if t.shape is None else t.shape
                                    for t in tracks]).reshape(len(tracks), pose_shape.shape[1])
            parts.append(np.minimum(1.0, _nanmean(np.abs(pose_shape[:, None] - track_shape[None]), 2) / SHAPE_SCALE))
        if cfg.reentry_colour:
            bins = HUE_BINS * SAT_BINS
            pose_colour = np.array([p.colour for p in poses], np.float64).reshape(len(poses), 2, bins)
            track_colour = np.array([np.full((2, bins), np.nan) if t.colour is None else t.colour
                                     for t in tracks], np.float64).reshape(len(tracks), 2, bins)
            parts.append(_nanmean(bhattacharyya(pose_colour, track_colour), 2))
        if not parts:
            return np.full(gated.shape, np.inf)
        stacked = np.stack(parts)
        has = np.isfinite(stacked).any(axis=0)
        combined = np.where(has, _nanmean(np.where(has, stacked, 0), 0), np.inf)
        combined[gated | (combined > cfg.reentry_max_cost)] = np.inf
        return combined

    def _is_young(self, tid: int, time_s: float) -> bool:
        track = self.tracks.get(tid)
        return track is not None and time_s - track.born < YOUNG_SECONDS

    def _forget(self, time_s: float) -> None:
        for tid in [t for t, track in self.tracks.items() if time_s - track.last_seen > self.config.lost_seconds]:
            del self.tracks[tid]


def bhattacharyya(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(P, L, R) Bhattacharyya distances (``cv2.compareHist``'s HISTCMP_BHATTACHARYYA) between the histograms of
    ``a`` (P, R, bins) and ``b`` (L, R, bins), region by region; nan where either region has no histogram."""
    overlap = np.einsum("prk,lrk->plr", np.sqrt(np.maximum(a, 0)), np.sqrt(np.maximum(b, 0)))
    norm = a.sum(axis=2)[:, None] * b.sum(axis=2)[None]
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = overlap / np.sqrt(np.where(np.abs(norm) > np.finfo(np.float32).eps, norm, 1.0))
    return np.sqrt(np.maximum(1.0 - scaled, 0.0))   # nan histograms stay nan through the sums


def _nanmean(values: np.ndarray, axis: int) -> np.ndarray:
    """Mean over ``axis`` of the finite values; nan where there are none (without numpy's empty-slice warning)."""
    finite = np.isfinite(values)
    count = finite.sum(axis=axis)
    total = np.where(finite, values, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)
