"""Handmade tracking scenes for the tracker's tests: stick people moving at known velocities, their exact optical
flow, and an oracle detector / pose estimator that see the ground truth.

A person is a fixed 17-joint PoseTrack-layout template (about 100 px tall, integer joint offsets) translated to its
position in each frame. The flow field of frame t -> t+1 gives every pixel the velocity of the person owning the
nearest joint in frame t (pixels far from everyone stay still), so flow sampled at a joint moves it exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tracker.types import Boxes, Frame, Poses

# (x, y) offsets of the POSETRACK18 joints from a person's anchor (head top); ears are never annotated in PoseTrack.
TEMPLATE = np.array([
    [0, 10], [0, 22], [0, 0], [0, 0], [0, 0],
    [-12, 28], [12, 28], [-16, 45], [16, 45], [-18, 60], [18, 60],
    [-8, 60], [8, 60], [-8, 80], [8, 80], [-8, 100], [8, 100],
], np.float32)
TEMPLATE_SCORES = np.array([0.9, 0.9, 0.9, 0, 0] + [0.9] * 12, np.float32)
STILL_DISTANCE = 40.0  # pixels farther than this from every joint do not move


@dataclass
class Scene:
    """positions[t][p] = anchor (x, y) of person p in frame t, or None when the person is not visible."""

    positions: list[list[tuple[float, float] | None]]
    height: int = 240
    width: int = 320

    @property
    def num_frames(self) -> int:
        return len(self.positions)

    def poses(self, t: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """keypoints (N, 17, 2), scores (N, 17) of the visible people of frame t, and their person numbers."""
        people = [p for p, xy in enumerate(self.positions[t]) if xy is not None]
        kp = np.array([TEMPLATE + np.array(self.positions[t][p], np.float32) for p in people], np.float32)
        return kp.reshape(-1, 17, 2), np.tile(TEMPLATE_SCORES, (len(people), 1)), people

    def frames(self) -> list[np.ndarray]:
        """Blank RGB frames whose pixel (0, 0) holds the frame number (so oracles know the frame)."""
        images = []
        for t in range(self.num_frames):
            image = np.zeros((self.height, self.width, 3), np.uint8)
            image[0, 0] = t
            images.append(image)
        return images

    def flow(self, t: int) -> np.ndarray:
        """(H, W, 2) flow from frame t to t+1."""
        field = np.zeros((self.height, self.width, 2), np.float32)
        kp, _, people = self.poses(t)
        moving = [(i, p) for i, p in enumerate(people) if self.positions[t + 1][p] is not None]
        if not moving:
            return field
        joints = np.concatenate([kp[i] for i, _ in moving])                           # (J, 2)
        velocity = np.concatenate([
            np.tile(np.subtract(self.positions[t + 1][p], self.positions[t][p]), (17, 1)) for _, p in moving
        ]).astype(np.float32)
        ys, xs = np.mgrid[0:self.height, 0:self.width]
        distance = np.hypot(xs[..., None] - joints[:, 0], ys[..., None] - joints[:, 1])  # (H, W, J)
        nearest = distance.argmin(axis=2)
        near = distance.min(axis=2) <= STILL_DISTANCE
        field[near] = velocity[nearest[near]]
        return field

    def flow_estimator(self):
        """A flow callable (prev_rgb, next_rgb) -> (H, W, 2) that reads the frame number from pixel (0, 0)."""
        def estimate(prev_rgb: np.ndarray, next_rgb: np.ndarray) -> np.ndarray:
            return self.flow(int(prev_rgb[0, 0, 0]))
        return estimate

    def given_poses(self) -> list[Poses]:
        """Tracking-only input: every frame's poses with boxes around the joints."""
        from tracker.pipeline import poses_with_boxes

        return [poses_with_boxes(*self.poses(t)[:2]) for t in range(self.num_frames)]

    def person_numbers(self) -> list[list[int]]:
        return [self.poses(t)[2] for t in range(self.num_frames)]

    def oracle_detector(self, missed: set[tuple[int, int]] = frozenset()):
        """Boxes (joints' box + 15 % a side, score 0.9) of the visible people, except (frame, person) in ``missed``."""
        def detect(frame: Frame) -> Boxes:
            t = frame.index
            kp, _, people = self.poses(t)
            keep = [i for i, p in enumerate(people) if (t, p) not in missed]
            boxes = [_box_around(kp[i]) for i in keep]
            return Boxes.detected(np.array(boxes, np.float32).reshape(-1, 4), np.full(len(keep), 0.9))
        return detect

    def oracle_pose_estimator(self):
        """(image, boxes) -> the true pose of the person whose joints' centre is nearest each box centre."""
        def estimate(image: np.ndarray, boxes: np.ndarray):
            kp, sc, _ = self.poses(int(image[0, 0, 0]))
            centres = kp.mean(axis=1)                                       # (N, 2)
            box_centres = (boxes[:, :2] + boxes[:, 2:]) / 2
            nearest = np.linalg.norm(box_centres[:, None] - centres[None], axis=2).argmin(axis=1)
            return kp[nearest], sc[nearest]
        return estimate


def _box_around(keypoints: np.ndarray, extend: float = 0.15) -> list[float]:
    x1, y1 = keypoints.min(axis=0)
    x2, y2 = keypoints.max(axis=0)
    dw, dh = (x2 - x1) * extend, (y2 - y1) * extend
    return [x1 - dw, y1 - dh, x2 + dw, y2 + dh]


def crossing_scene(frames: int = 8, speed: int = 16, offset: int = 4) -> Scene:
    """Two people walking towards each other on (almost) the same line and passing: A right, B left.

    With speed 16 they meet between frames 3 and 4: frame 3 has A at x=148 and B at x=152, frame 4 A at 164 and B
    at 136, so B's frame-4 pose is nearer A's frame-3 pose (12 px) than A's own is (16 px): without flow the ids swap.
    """
    return Scene([[(100 + speed * t, 60), (200 - speed * t, 60 + offset)] for t in range(frames)])


def ids_by_person(track_ids: list[np.ndarray], people: list[list[int]]) -> dict[int, set[int]]:
    """person number -> set of track ids it received over the sequence (one id each = tracked perfectly)."""
    out: dict[int, set[int]] = {}
    for ids, persons in zip(track_ids, people):
        for track_id, person in zip(ids, persons):
            out.setdefault(person, set()).add(int(track_id))
    return out
