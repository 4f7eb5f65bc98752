"""Seeded synthetic multi-person videos with exact ground truth, in PoseTrack 2018 and COCO formats.

Each video is a scene: a procedural background canvas (gradients, multi-octave noise, buildings, trees,
poles, blobs, sometimes a crowd of tiny figures that is marked as an ignore region), a panning camera that slices
the canvas, and articulated people (``synthetic_people``) who walk, run, wave or stand, enter and leave the
view, cross and occlude each other, sometimes behind foreground posts. Nearer people (lower on the ground plane)
are larger and drawn later.

Ground truth per frame (``FrameTruth``) is exact: keypoints are the projected joints of the drawn bodies.
Visibility follows COCO: 2 = visible, 1 = inside the image but hidden (behind a nearer person or a post, or a
face point turned away from the camera), 0 = outside the image (not labelled). A joint hidden by the person's own
body (an arm behind their torso) counts as visible, as COCO annotators label it. PoseTrack 2018 files keep only what an
annotator could click by default: joints with v = 2 get ``x, y, 1``; hidden joints are dropped (``0, 0, 0``)
unless ``posetrack_occluded="keep"`` writes them as ``x, y, 1`` too; ears are always ``0, 0, 0``.
People with no visible joint in a frame are not in that frame's ground truth.

Python API: ``generate_video(seed, frames, ...)`` yields ``(frame_rgb, FrameTruth)`` in memory;
``generate_dataset(out_dir, videos, frames, seed, ...)`` writes

    DIR/videos/<seq>.mp4
    DIR/images/<seq>/<frame:06d>.jpg
    DIR/annotations/<seq>.json         PoseTrack 2018 ground truth, one file per sequence
    DIR/coco/person_keypoints.json     COCO keypoints of the labelled frames of all sequences
    DIR/detections/<seq>.json          person boxes made from the ground truth with seeded detector-like noise
                                       (``DetectionNoise``), a COCO results list the tracker's ``file:`` detector
                                       reads: ``[{"image_id": frame index, "category_id": 1, "bbox": [x, y, w, h],
                                       "score"}]``

with ``<seq>`` = ``f"{first_id + i:06d}_mpii_test"`` so the official PoseTrack tools parse the names.
Command line: ``python -m pose.data.synthetic --out DIR --videos N --frames F --seed S`` (``--help`` for more;
``--det-jitter``, ``--det-miss``, ``--det-false`` set the detection noise). ``--set NAME`` writes ``detections/NAME/``,
``annotations/NAME/`` and ``coco/NAME.json`` instead (the PoseTrack training layout; the images stay in
``images/<seq>/``).

The detections are the ground-truth people's boxes with relative jitter, some people missed, some false boxes
with low-ish scores, and noisy scores; they come from a random stream of their own, so they never change the
frames or the ground truth, and the same seed gives byte-identical files.
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from pose.data import synthetic_people as sp
from pose.fileio import write_text_atomic
from pose.keypoints import COCO17, POSETRACK18

MAX_FRAMES = 10000          # PoseTrack image ids hold the frame index in 4 digits
MAX_VIDEO_ID = 999999       # and the video id in 6
POSETRACK_IMAGE_ID_BASE = 10_000_000_000   # PoseTrack 2018 image id: "1" + 6-digit video + 4-digit frame
OCCLUDER_SLOT = 255         # owner-map value of foreground posts (people are 1..num_people)


class SyntheticDataError(ValueError):
    """A bad argument or an output location that cannot be written."""


@dataclass(frozen=True)
class VideoConfig:
    """Scene parameters of one video. ``num_people``: people over the whole video (None: 2-6 at random);
    ``motion_weights``: probabilities of walk, run, wave, stand; ``crowd_probability``: chance of a crowd of
    tiny figures in the background, reported as an ignore region; ``occluder_probability``: chance of one or two
    foreground posts in front of everyone."""

    size: tuple[int, int] = (640, 480)          # (width, height)
    num_people: int | None = None
    camera_pan: bool = True
    crowd_probability: float = 0.3
    occluder_probability: float = 0.3           # chance of foreground posts that hide people behind them
    motion_weights: tuple[float, float, float, float] = (0.45, 0.2, 0.2, 0.15)
    min_height: float = 0.45                    # person height at the bottom of the image, fraction of image
    max_height: float = 0.95                    # height; one value per video drawn from this range


@dataclass(frozen=True)
class DetectionNoise:
    """How detections are made from the ground-truth boxes (all defaults moderate; zeros give the exact boxes).

    jitter: standard deviation of the box centre shift, as a fraction of the box width / height, and of the log
    of the size change; miss: probability that a person is not detected in a frame; false_positives: mean number
    of false boxes per frame (Poisson), person-shaped, anywhere in the image, scoring uniformly in
    ``false_score``; score: mean score of a true detection, lowered by ``occlusion_penalty`` x (fraction of the
    person's joints not visible); score_noise: standard deviation of a true detection's score. True scores are
    clipped to [``min_score``, 0.999]; ``min_score`` above the tracker's box threshold (0.5) means a kept person
    is never dropped for its score alone.
    """

    jitter: float = 0.05
    miss: float = 0.1
    false_positives: float = 0.3
    false_score: tuple[float, float] = (0.2, 0.65)
    score: float = 0.92
    score_noise: float = 0.04
    occlusion_penalty: float = 0.2
    min_score: float = 0.55


@dataclass(frozen=True)
class FrameTruth:
    """Exact ground truth of one frame for the N people with at least one visible joint, sorted by track id.

    keypoints (N, 17, 2) float32 COCO order; visibility (N, 17) uint8 (0 outside, 1 hidden, 2 visible);
    posetrack_keypoints (N, 17, 2) and posetrack_visibility (N, 17) in PoseTrack 2018 order (head_bottom = neck,
    head_top = top of the head; ears visibility 0); track_ids (N,) int64; boxes (N, 4) float32 xyxy of the drawn
    silhouette (parts hidden behind nearer people included) clipped to the image; head_boxes (N, 4) float32 xyxy (head_top to neck, head width; not clipped);
    areas (N,) visible pixel count; ignore_regions: list of (M, 2) float32 polygons in image coordinates.
    """

    index: int
    keypoints: np.ndarray
    visibility: np.ndarray
    posetrack_keypoints: np.ndarray
    posetrack_visibility: np.ndarray
    track_ids: np.ndarray
    boxes: np.ndarray
    head_boxes: np.ndarray
    areas: np.ndarray
    ignore_regions: list[np.ndarray] = field(default_factory=list)


@dataclass(frozen=True)
class Person:
    """One track: it stands at world ground line ``ground_y`` and moves ``velocity`` px/frame from ``x0``."""

    track_id: int
    motion: sp.Motion
    appearance: sp.Appearance
    yaw: float
    height: float
    ground_y: float
    x0: float
    velocity: float

    def root(self, t: int) -> tuple[float, float]:
        return self.x0 + self.velocity * t, self.ground_y

    def yaw_at(self, t: int) -> float:
        """The way the person faces in frame ``t`` (constant here; scripted people turn)."""
        return self.yaw


@dataclass(frozen=True)
class Scene:
    """Everything that is fixed for a video: background canvas (Hc, Wc, 3) uint8 **BGR** (frames are drawn in
    OpenCV's order and turned into RGB only for the Python API), integer camera offsets
    (T, 2) (x, y) into it, the people, world-space ignore polygons, and foreground posts: (x1, y1, x2, y2) world
    rectangles with their RGB colour, drawn over everyone."""

    config: VideoConfig
    background: np.ndarray
    camera: np.ndarray
    people: tuple[Person, ...]
    ignore_polygons: tuple[np.ndarray, ...]
    occluders: tuple[tuple[tuple[int, int, int, int], tuple[float, float, float]], ...] = ()


# --------------------------------------------------------------------------------------------------- scene
def _smooth_noise(rng: np.random.Generator, width: int, height: int, channels: int, octaves=(64, 16, 4)) -> np.ndarray:
    """Multi-octave value noise in about [-1, 1], (height, width, channels) float32."""
    out = np.zeros((height, width, channels), np.float32)
    for k, cell in enumerate(octaves):
        small = rng.uniform(-1, 1, (height // cell + 2, width // cell + 2, channels)).astype(np.float32)
        big = cv2.resize(small, ((width // cell + 2) * cell, (height // cell + 2) * cell),
                         interpolation=cv2.INTER_CUBIC)
        out += big[:height, :width].reshape(height, width, channels) * (0.6 ** k)
    return out / 1.6


def make_background(rng: np.random.Generator, width: int, height: int, horizon: float) -> np.ndarray:
    """A textured scene canvas (height, width, 3) uint8 RGB: sky and ground gradients, noise, buildings, trees,
    poles, ground patches and random blobs."""
    ys = np.arange(height, dtype=np.float32)[:, None, None]
    sky_top, sky_low = rng.uniform(60, 250, 3), rng.uniform(60, 250, 3)
    ground_far, ground_near = rng.uniform(30, 200, 3), rng.uniform(20, 180, 3)
    a = np.clip(ys / max(horizon, 1.0), 0, 1)
    sky = sky_top * (1 - a) + sky_low * a
    g = np.clip((ys - horizon) / max(height - horizon, 1.0), 0, 1)
    ground = ground_far * (1 - g) + ground_near * g
    canvas = np.where(ys < horizon, sky, ground).astype(np.float32)
    canvas = np.broadcast_to(canvas, (height, width, 3)).copy()
    canvas += _smooth_noise(rng, width, height, 3) * rng.uniform(10, 35)
    canvas += _smooth_noise(rng, width, height, 1, octaves=(8, 2)) * rng.uniform(4, 14)
    img = np.clip(canvas, 0, 255).astype(np.uint8)

    h_i = int(horizon)
    for _ in range(rng.integers(3, 12)):       # buildings standing on the horizon, some with windows
        w = int(rng.uniform(40, 200))
        x = int(rng.uniform(-w, width))
        top = int(h_i - rng.uniform(20, max(25, h_i)))
        color = tuple(float(c) for c in rng.uniform(30, 230, 3))
        cv2.rectangle(img, (x, top), (x + w, h_i + 4), color, -1)
        if rng.random() < 0.6:
            win = tuple(float(c) for c in rng.uniform(0, 255, 3))
            step = int(rng.uniform(10, 24))
            for wy in range(top + 6, h_i - 8, step):
                for wx in range(x + 5, x + w - 8, step):
                    cv2.rectangle(img, (wx, wy), (wx + step // 2, wy + step // 2), win, -1)
    for _ in range(rng.integers(0, 6)):        # trees
        x = int(rng.uniform(0, width))
        base = int(horizon + rng.uniform(0, 0.3) * (height - horizon))
        size = rng.uniform(15, 60)
        cv2.rectangle(img, (x - int(size * 0.12), base - int(size * 1.5)), (x + int(size * 0.12), base),
                      tuple(float(c) for c in rng.uniform(40, 110, 3)), -1)
        cv2.circle(img, (x, base - int(size * 1.6)), int(size), tuple(float(c) for c in
                   (rng.uniform(20, 90), rng.uniform(80, 180), rng.uniform(20, 90))), -1)
    for _ in range(rng.integers(2, 10)):       # ground patches
        center = (int(rng.uniform(0, width)), int(rng.uniform(horizon, height)))
        axes = (int(rng.uniform(20, 160)), int(rng.uniform(5, 40)))
        cv2.ellipse(img, center, axes, 0, 0, 360, tuple(float(c) for c in rng.uniform(20, 230, 3)), -1)
    for _ in range(rng.integers(0, 8)):        # poles and bars: thin, limb-like distractors
        x = int(rng.uniform(0, width))
        y = int(rng.uniform(0, height))
        length, angle = rng.uniform(30, 150), rng.uniform(0, np.pi)
        x2, y2 = int(x + length * np.cos(angle)), int(y + length * np.sin(angle))
        cv2.line(img, (x, y), (x2, y2), tuple(float(c) for c in rng.uniform(0, 255, 3)), int(rng.uniform(2, 9)))
    for _ in range(rng.integers(2, 12)):       # blobs and polygons
        pts = (rng.uniform(-30, 30, (5, 2)) * rng.uniform(0.5, 3) + rng.uniform([0, 0], [width, height]))
        cv2.fillPoly(img, [pts.astype(np.int32)], tuple(float(c) for c in rng.uniform(0, 255, 3)))
    return cv2.GaussianBlur(img, (3, 3), 0)


def _draw_crowd(rng: np.random.Generator, img: np.ndarray, horizon: float, ref_height: float) -> np.ndarray:
    """Draw a crowd of tiny figures near the horizon; returns its ignore polygon (4, 2) in canvas coordinates."""
    height, width = img.shape[:2]
    size = ref_height * rng.uniform(0.08, 0.15)
    span = rng.uniform(120, 280)
    x_left = rng.uniform(0, max(1.0, width - span))
    feet_top, feet_bottom = horizon + 0.02 * (height - horizon), horizon + 0.12 * (height - horizon)
    for _ in range(rng.integers(15, 45)):
        x = rng.uniform(x_left, x_left + span)
        y = rng.uniform(feet_top, feet_bottom)
        s = size * rng.uniform(0.85, 1.15)
        body = tuple(float(c) for c in rng.uniform(0, 255, 3))
        cv2.ellipse(img, (int(x), int(y - 0.45 * s)), (max(1, int(0.14 * s)), max(1, int(0.42 * s))), 0, 0, 360,
                    body, -1)
        cv2.circle(img, (int(x), int(y - 0.95 * s)), max(1, int(0.1 * s)),
                   tuple(float(c) for c in np.array([224, 172, 135]) * rng.uniform(0.45, 1.1)), -1)
    x1, x2 = x_left - 0.2 * size, x_left + span + 0.2 * size
    y1, y2 = feet_top - 1.1 * size, feet_bottom + 2
    return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], np.float32)


def _camera_path(rng: np.random.Generator, frames: int, pan: bool) -> np.ndarray:
    """(frames, 2) int offsets (x, y) >= 0: a drift plus a slow sway, or a still camera."""
    t = np.arange(frames, dtype=np.float64)
    if not pan:
        return np.zeros((frames, 2), np.int64)
    speed = rng.uniform(-2.5, 2.5)
    amp, period, phase = rng.uniform(0, 40), rng.uniform(60, 200), rng.uniform(0, 2 * np.pi)
    x = speed * t + amp * np.sin(2 * np.pi * t / period + phase)
    y = rng.uniform(0, 6) * np.sin(2 * np.pi * t / rng.uniform(40, 120) + rng.uniform(0, 2 * np.pi))
    cam = np.round(np.stack([x, y], axis=1)).astype(np.int64)
    return cam - cam.min(axis=0)


def make_scene(rng: np.random.Generator, frames: int, config: VideoConfig) -> Scene:
    """Draw a video's background, camera path and people from ``rng``."""
    width, height = config.size
    camera = _camera_path(rng, frames, config.camera_pan)
    canvas_w = width + int(camera[:, 0].max()) + 1
    canvas_h = height + int(camera[:, 1].max()) + 1
    horizon = rng.uniform(0.2, 0.45) * height
    ref_height = rng.uniform(config.min_height, config.max_height) * height   # person height at image bottom
    background = make_background(rng, canvas_w, canvas_h, horizon)
    ignore = ()
    if rng.random() < config.crowd_probability:
        ignore = (_draw_crowd(rng, background, horizon, ref_height),)
    background = np.ascontiguousarray(background[:, :, ::-1])      # RGB -> BGR

    n = config.num_people if config.num_people is not None else int(rng.integers(2, 7))
    kinds = rng.choice(len(sp.MOTIONS), size=n, p=np.asarray(config.motion_weights) / sum(config.motion_weights))
    grounds = np.sort(rng.uniform(horizon + 0.3 * (height - horizon), 1.08 * height, n))
    rng.shuffle(grounds)
    people = []
    for k in range(n):
        kind = sp.MOTIONS[int(kinds[k])]
        ground = float(grounds[k])
        person_h = ref_height * (ground - horizon) / (height - horizon) * rng.uniform(0.9, 1.1)
        appearance = sp.random_appearance(rng)
        amplitude = float(rng.uniform(0.8, 1.2))
        if kind in ("walk", "run"):
            direction = 1.0 if rng.random() < 0.5 else -1.0
            speed = person_h * (rng.uniform(0.02, 0.035) if kind == "walk" else rng.uniform(0.055, 0.085))
            stride = person_h * (0.8 if kind == "walk" else 1.4)
            motion = sp.Motion(kind, frequency=speed / stride, phase=float(rng.uniform()), amplitude=amplitude)
            yaw = direction * np.deg2rad(rng.uniform(50, 130))
            velocity = direction * speed
            enters = k > 0 and rng.random() < 0.5
            if enters:   # start just outside the view and walk in at entry frame te
                te = int(rng.uniform(0, 0.7 * frames))
                x_img = -0.35 * person_h if direction > 0 else width + 0.35 * person_h
                x0 = x_img + camera[te, 0] - velocity * te
            else:
                x0 = rng.uniform(0.1, 0.9) * width + camera[0, 0]
        else:
            wave_arms = [(True, False), (False, True), (True, True)][int(rng.integers(3))]
            freq = rng.uniform(0.05, 0.09) if kind == "wave" else rng.uniform(0.01, 0.03)
            motion = sp.Motion(kind, frequency=float(freq), phase=float(rng.uniform()), amplitude=amplitude,
                               wave_arms=wave_arms)
            yaw = np.deg2rad(rng.uniform(-60, 60) if rng.random() < 0.75 else rng.uniform(120, 240))
            velocity = 0.0
            x0 = rng.uniform(0.08, 0.92) * width + camera[0, 0]
        if rng.random() < 0.6:   # a slow gesture of the free arms: reach forward, lift sideways, bend
            scale = 0.5 if kind in ("walk", "run") else 1.0
            gesture = tuple(float(v) for v in rng.uniform([-0.3, 0.0, 0.0] * 2, [1.6, 1.2, 1.8] * 2) * scale
                            * (rng.random(6) < 0.5))
            motion = replace(motion, gesture=gesture, gesture_frequency=float(rng.uniform(0.005, 0.03)),
                             gesture_phase=float(rng.uniform()))
        people.append(Person(track_id=k, motion=motion, appearance=appearance, yaw=float(yaw),
                             height=float(person_h), ground_y=ground, x0=float(x0), velocity=float(velocity)))
    occluders = []
    if rng.random() < config.occluder_probability:
        for _ in range(int(rng.integers(1, 3))):
            post_w = int(rng.uniform(0.015, 0.05) * width)
            x = int(rng.uniform(0, canvas_w - post_w))
            top = int(rng.uniform(-0.2, 0.4) * height)
            color = tuple(float(c) for c in rng.uniform(0, 255, 3))
            occluders.append(((x, top, x + post_w, canvas_h + 1), color))
    return Scene(config=config, background=background, camera=camera, people=tuple(people),
                 ignore_polygons=ignore, occluders=tuple(occluders))


# --------------------------------------------------------------------------------------------------- render
def render_frame(scene: Scene, t: int, bgr: bool = False) -> tuple[np.ndarray, FrameTruth]:
    """Frame ``t`` of ``scene``: the image (H, W, 3) uint8, RGB (or BGR with ``bgr=True``), and its ground truth."""
    width, height = scene.config.size
    cx, cy = (int(v) for v in scene.camera[t])
    image = scene.background[cy:cy + height, cx:cx + width].copy()
    owner = np.zeros((height, width), np.uint8)    # which drawn person (slot) owns each pixel

    order = sorted(scene.people, key=lambda p: (p.ground_y, p.track_id))   # far to near
    drawn = []
    for person in order:
        wx, wy = person.root(t)
        root = (wx - cx, wy - cy)
        reach = 0.8 * person.height
        if root[0] + reach < 0 or root[0] - reach >= width or root[1] - 1.2 * person.height >= height:
            continue
        angles = sp.motion_angles(person.motion, t)
        yaw = person.yaw_at(t)
        points3d = sp.body_points(angles, yaw, person.appearance.proportions)
        xy, depth = sp.project(points3d, root, person.height)
        margin = sp.body_extent(person.height, person.appearance.build)
        x0 = max(int(np.floor(xy[:, 0].min() - margin)), 0)
        y0 = max(int(np.floor(xy[:, 1].min() - margin)), 0)
        x1 = min(int(np.ceil(xy[:, 0].max() + margin)) + 1, width)
        y1 = min(int(np.ceil(xy[:, 1].max() + margin)) + 1, height)
        if x1 <= x0 or y1 <= y0:
            continue
        face = sp.face_visible(points3d)
        partmap = np.zeros((y1 - y0, x1 - x0), np.uint8)
        sp.draw_parts(partmap, xy - (x0, y0), depth, person.height, yaw, person.appearance, face)
        slot = len(drawn) + 1
        texture_origin = (int(round(root[0])), int(round(root[1])))
        mask = sp.composite(image, owner, partmap, x0, y0, person.appearance, texture_origin, slot)
        rows, cols = np.any(mask, axis=1), np.any(mask, axis=0)
        if not rows.any():
            continue
        r = np.flatnonzero(rows)
        c = np.flatnonzero(cols)
        box = (x0 + c[0], y0 + r[0], x0 + c[-1] + 1, y0 + r[-1] + 1)
        drawn.append((person, slot, xy, face, box, (x0, y0, x1, y1)))

    for (x1, y1, x2, y2), color in scene.occluders:       # foreground posts hide what is behind them
        corner1, corner2 = (x1 - cx, y1 - cy), (x2 - cx - 1, y2 - cy - 1)
        cv2.rectangle(image, corner1, corner2, color[::-1], -1)
        cv2.rectangle(owner, corner1, corner2, OCCLUDER_SLOT, -1)

    truths = []
    for person, slot, xy, face, box, (x0, y0, x1, y1) in drawn:
        pts = xy[: sp.NUM_COCO]
        vis = _visibility(pts, owner, slot, face[: sp.NUM_COCO])
        if not (vis == 2).any():
            continue
        neck, top = xy[sp.P["neck"]], xy[sp.P["head_top"]]
        head_vis = _visibility(np.stack([neck, top]), owner, slot, np.ones(2, bool))
        pt_kp = pts.copy()
        pt_kp[1], pt_kp[2] = neck, top
        pt_vis = vis.copy()
        pt_vis[1], pt_vis[2] = head_vis
        pt_vis[3] = pt_vis[4] = 0          # PoseTrack never annotates the ears
        center = xy[sp.P["head_center"]]
        radius = sp.HEAD_RADIUS * person.height
        head_box = (min(center[0] - radius, neck[0], top[0]), min(center[1] - radius, top[1]),
                    max(center[0] + radius, neck[0], top[0]), max(center[1] + radius, neck[1]))
        area = int(np.count_nonzero(owner[y0:y1, x0:x1] == slot))
        truths.append((person.track_id, pts, vis, pt_kp, pt_vis, box, head_box, area))
    truths.sort(key=lambda r: r[0])

    regions = []
    for poly in scene.ignore_polygons:
        p = poly - np.array([cx, cy], np.float32)
        if p[:, 0].max() < 0 or p[:, 0].min() >= width or p[:, 1].max() < 0 or p[:, 1].min() >= height:
            continue
        p[:, 0] = np.clip(p[:, 0], 0, width - 1)
        p[:, 1] = np.clip(p[:, 1], 0, height - 1)
        regions.append(p.astype(np.float32))

    n = len(truths)
    truth = FrameTruth(
        index=t,
        keypoints=np.array([r[1] for r in truths], np.float32).reshape(n, 17, 2),
        visibility=np.array([r[2] for r in truths], np.uint8).reshape(n, 17),
        posetrack_keypoints=np.array([r[3] for r in truths], np.float32).reshape(n, 17, 2),
        posetrack_visibility=np.array([r[4] for r in truths], np.uint8).reshape(n, 17),
        track_ids=np.array([r[0] for r in truths], np.int64),
        boxes=np.array([r[5] for r in truths], np.float32).reshape(n, 4),
        head_boxes=np.array([r[6] for r in truths], np.float32).reshape(n, 4),
        areas=np.array([r[7] for r in truths], np.int64),
        ignore_regions=regions,
    )
    return (image if bgr else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)), truth


def _visibility(points: np.ndarray, owner: np.ndarray, slot: int, facing: np.ndarray) -> np.ndarray:
    """(M,) uint8 COCO visibility of image points of the person drawn as ``slot``: 0 outside the image,
    2 where the pixel is the person's own and the point faces the camera, else 1."""
    height, width = owner.shape
    xi = np.floor(points[:, 0]).astype(np.int64)
    yi = np.floor(points[:, 1]).astype(np.int64)
    inside = (xi >= 0) & (xi < width) & (yi >= 0) & (yi < height)
    vis = np.zeros(len(points), np.uint8)
    own = np.zeros(len(points), bool)
    own[inside] = owner[yi[inside], xi[inside]] == slot
    vis[inside] = 1
    vis[inside & own & facing] = 2
    return vis


def video_rng(seed: int, video_index: int) -> np.random.Generator:
    """The random generator of one video: independent streams for (seed, video index)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(video_index)]))


def generate_video(
    seed: int, frames: int, size: tuple[int, int] = (640, 480), num_people: int | None = None,
    config: VideoConfig | None = None, video_index: int = 0,
) -> Iterator[tuple[np.ndarray, FrameTruth]]:
    """Yield ``(frame_rgb (H, W, 3) uint8, FrameTruth)`` for each of ``frames`` frames of one synthetic video.

    The same (seed, video_index, config) always gives the same frames and ground truth. ``size`` and
    ``num_people`` override the config's values.
    """
    _check_frames(frames)
    config = VideoConfig() if config is None else config
    config = VideoConfig(**{**config.__dict__, "size": tuple(size), "num_people": num_people
                            if num_people is not None else config.num_people})
    _check_config(config)
    scene = make_scene(video_rng(seed, video_index), frames, config)
    for t in range(frames):
        yield render_frame(scene, t)


# --------------------------------------------------------------------------------------------------- formats
def sequence_name(video_id: int) -> str:
    return f"{video_id:06d}_mpii_test"


def image_id(video_id: int, frame: int) -> int:
    """PoseTrack 2018's image id: the digit 1, the 6-digit video id and the 4-digit frame index."""
    return POSETRACK_IMAGE_ID_BASE + video_id * 10000 + frame


def _r(values) -> list[float]:
    return [round(float(v), 2) for v in values]


def _categories(layout, supercategory: str = "person") -> list[dict]:
    # The 1-based COCO skeleton: the list PoseTrack 2018 files carry too.
    skeleton = [[a + 1, b + 1] for a, b in COCO17.skeleton]
    return [{"supercategory": supercategory, "id": 1, "name": "person", "keypoints": list(layout.joints),
             "skeleton": skeleton}]


def posetrack_image_entry(video_id: int, frame: int, nframes: int, truth: FrameTruth, labeled: bool,
                          size: tuple[int, int]) -> dict:
    seq = sequence_name(video_id)
    return {
        "has_no_densepose": True,
        "is_labeled": labeled,
        "file_name": f"images/{seq}/{frame:06d}.jpg",
        "nframes": nframes,
        "frame_id": image_id(video_id, frame),
        "vid_id": f"{video_id:06d}",
        "ignore_regions_x": [_r(p[:, 0]) for p in truth.ignore_regions] if labeled else [],
        "ignore_regions_y": [_r(p[:, 1]) for p in truth.ignore_regions] if labeled else [],
        "id": image_id(video_id, frame),
        "width": size[0],
        "height": size[1],
    }


def posetrack_annotations(video_id: int, frame: int, truth: FrameTruth, occluded: str = "drop") -> list[dict]:
    """PoseTrack 2018 annotations of one labelled frame (see the module docstring for the joint rule)."""
    out = []
    keep_level = 1 if occluded == "keep" else 2
    img = image_id(video_id, frame)
    for n in range(len(truth.track_ids)):
        vis = truth.posetrack_visibility[n]
        kp = []
        for k in range(17):
            if vis[k] >= keep_level:
                kp += [round(float(truth.posetrack_keypoints[n, k, 0]), 2),
                       round(float(truth.posetrack_keypoints[n, k, 1]), 2), 1]
            else:
                kp += [0, 0, 0]
        num = sum(1 for k in range(17) if vis[k] >= keep_level)
        if num == 0:
            continue
        x1, y1, x2, y2 = truth.boxes[n]
        hx1, hy1, hx2, hy2 = truth.head_boxes[n]
        out.append({
            "bbox_head": _r([hx1, hy1, hx2 - hx1, hy2 - hy1]),
            "keypoints": kp,
            "track_id": int(truth.track_ids[n]),
            "image_id": img,
            "bbox": _r([x1, y1, x2 - x1, y2 - y1]),
            "scores": [],
            "category_id": 1,
            "id": img * 100 + n,
            "iscrowd": False,
            "num_keypoints": num,
        })
    return out


def coco_annotations(video_id: int, frame: int, truth: FrameTruth, first_ann_id: int) -> list[dict]:
    """COCO keypoint annotations (17 COCO joints, v in {0, 1, 2}) of one frame."""
    out = []
    img = image_id(video_id, frame)
    for n in range(len(truth.track_ids)):
        vis = truth.visibility[n]
        kp = []
        for k in range(17):
            if vis[k] > 0:
                kp += [round(float(truth.keypoints[n, k, 0]), 2), round(float(truth.keypoints[n, k, 1]), 2),
                       int(vis[k])]
            else:
                kp += [0, 0, 0]
        x1, y1, x2, y2 = truth.boxes[n]
        out.append({
            "id": first_ann_id + len(out),
            "image_id": img,
            "category_id": 1,
            "keypoints": kp,
            "num_keypoints": int((vis > 0).sum()),
            "bbox": _r([x1, y1, x2 - x1, y2 - y1]),
            "area": float(truth.areas[n]),
            "iscrowd": 0,
            "track_id": int(truth.track_ids[n]),
        })
    return out


def write_json_atomic(path: Path, data: dict | list) -> None:
    """Compact JSON, written atomically (``pose.fileio``): a file there is always complete."""
    write_text_atomic(path, json.dumps(data, separators=(",", ":")))


# --------------------------------------------------------------------------------------------------- detections
def detection_rng(seed: int, video_index: int) -> np.random.Generator:
    """The random generator of one video's detections: a stream apart from the scene's (``video_rng``)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(video_index), 1]))


def noisy_detections(truth: FrameTruth, size: tuple[int, int], noise: DetectionNoise,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Detector-like boxes of one frame made from its ground truth.

    Returns boxes (M, 4) float32 xyxy clipped to the image, scores (M,) float32, and source (M,) int64: the index
    into ``truth.track_ids`` of the person a box comes from, -1 for a false positive. Draws the same numbers from
    ``rng`` whatever the noise values, so changing one option does not reshuffle the others.
    """
    width, height = size
    n = len(truth.track_ids)
    boxes = truth.boxes.astype(np.float64).reshape(n, 4)
    w = np.maximum(boxes[:, 2] - boxes[:, 0], 1.0)
    h = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
    shift = rng.normal(0.0, 1.0, (n, 2)) * noise.jitter
    grow = np.exp(rng.normal(0.0, 1.0, (n, 2)) * noise.jitter)
    cx = (boxes[:, 0] + boxes[:, 2]) / 2 + shift[:, 0] * w
    cy = (boxes[:, 1] + boxes[:, 3]) / 2 + shift[:, 1] * h
    nw, nh = w * grow[:, 0], h * grow[:, 1]
    jittered = np.stack([cx - nw / 2, cy - nh / 2, cx + nw / 2, cy + nh / 2], axis=1)
    hidden = 1.0 - (truth.visibility == 2).mean(axis=1) if n else np.zeros(0)
    scores = noise.score - noise.occlusion_penalty * hidden + rng.normal(0.0, 1.0, n) * noise.score_noise
    scores = np.clip(scores, noise.min_score, 0.999)
    kept = rng.random(n) >= noise.miss

    count = int(rng.poisson(noise.false_positives))
    fh = rng.uniform(0.2, 0.7, count) * height
    fw = fh * rng.uniform(0.3, 0.55, count)
    fx = rng.uniform(0.0, 1.0, count) * np.maximum(width - fw, 1.0)
    fy = rng.uniform(0.0, 1.0, count) * np.maximum(height - fh, 1.0)
    false_boxes = np.stack([fx, fy, fx + fw, fy + fh], axis=1).reshape(count, 4)
    false_scores = rng.uniform(noise.false_score[0], noise.false_score[1], count)

    out = np.concatenate([jittered[kept], false_boxes])
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, width)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, height)
    source = np.concatenate([np.flatnonzero(kept), np.full(count, -1)]).astype(np.int64)
    keep = (out[:, 2] - out[:, 0] >= 1) & (out[:, 3] - out[:, 1] >= 1)      # a box pushed off the image is gone
    return (out[keep].astype(np.float32), np.concatenate([scores[kept], false_scores])[keep].astype(np.float32),
            source[keep])


def detection_records(frame: int, boxes: np.ndarray, scores: np.ndarray) -> list[dict]:
    """COCO results entries of one frame (``image_id`` = the 0-based frame index), as the ``file:`` detector reads."""
    return [{"image_id": int(frame), "category_id": 1, "bbox": _r([x1, y1, x2 - x1, y2 - y1]),
             "score": round(float(s), 4)} for (x1, y1, x2, y2), s in zip(boxes, scores)]


MAX_FALSE_POSITIVES = 100  # mean false boxes per frame; more only fills memory


def _check_noise(noise: DetectionNoise) -> None:
    for name in ("jitter", "false_positives", "score_noise", "occlusion_penalty"):
        value = getattr(noise, name)
        if not (np.isfinite(value) and value >= 0):
            raise SyntheticDataError(f"detection noise {name} must be a number >= 0, got {value!r}")
    if not 0.0 <= noise.miss <= 1.0:
        raise SyntheticDataError(f"detection miss probability must be in [0, 1], got {noise.miss!r}")
    if noise.false_positives > MAX_FALSE_POSITIVES:
        raise SyntheticDataError(f"detection false_positives is a mean per frame and at most {MAX_FALSE_POSITIVES}, "
                                 f"got {noise.false_positives!r}")
    lo, hi = noise.false_score
    if not 0.0 <= lo <= hi <= 1.0:
        raise SyntheticDataError(f"false_score must be (low, high) with 0 <= low <= high <= 1, got {noise.false_score!r}")


# --------------------------------------------------------------------------------------------------- dataset
class _FrameWriter:
    """Encodes JPEGs and mp4 frames on a background thread while the next frame renders (cv2 releases the GIL)."""

    def __init__(self, jpeg_quality: int):
        self.params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)]
        self.jobs: queue.Queue = queue.Queue(maxsize=16)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            if self.error is not None:
                continue
            bgr, jpeg_path, video = job
            try:
                if jpeg_path is not None and not cv2.imwrite(str(jpeg_path), bgr, self.params):
                    raise SyntheticDataError(f"could not write {jpeg_path}; check that the disk is not full")
                if video is not None:
                    video.write(bgr)
            except BaseException as exc:  # reported by close()
                self.error = exc

    def put(self, bgr: np.ndarray, jpeg_path: Path | None, video) -> None:
        if self.error is not None:
            raise self.error
        self.jobs.put((bgr, jpeg_path, video))

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


def generate_dataset(
    out_dir: str | Path, videos: int, frames: int, seed: int, size: tuple[int, int] = (640, 480),
    num_people: int | None = None, label_stride: int = 1, first_id: int = 0, write_images: bool = True,
    write_videos: bool = True, posetrack_occluded: str = "drop", jpeg_quality: int = 90, fps: float = 25.0,
    config: VideoConfig | None = None, progress: bool = True, image_set: str = "",
    detections: DetectionNoise | None = DetectionNoise(), scenes: list[Scene] | None = None,
) -> dict:
    """Write ``videos`` synthetic videos of ``frames`` frames under ``out_dir`` (layout in the module docstring).

    Frame ``t`` is labelled when ``t % label_stride == 0``; the COCO file holds the labelled frames only.
    ``image_set`` (e.g. ``"train"``) puts the sequence files in ``annotations/<set>/`` and the COCO file at
    ``coco/<set>.json``, the layout the PoseTrack and synthetic training readers expect for a named set; two sets
    share one folder when their ``first_id`` ranges do not overlap.
    ``detections``: the noise of ``detections/[<set>/]<seq>.json`` (every frame, labelled or not); None writes none.
    ``scenes``: hand-made scenes (one per video, ``config.size == size``, camera path of at least ``frames``
    rows) written instead of random ones, e.g. a staged crossing for a test; the seed then drives only the
    detections.
    Returns a summary: ``{"videos", "frames", "labeled_frames", "people", "seconds", "cpu_seconds", "fps"}``.
    """
    _check_frames(frames)
    for name, value, lo in (("videos", videos, 1), ("label_stride", label_stride, 1), ("first_id", first_id, 0),
                            ("seed", seed, 0)):
        if not isinstance(value, (int, np.integer)) or value < lo:
            raise SyntheticDataError(f"{name} must be an integer >= {lo}, got {value!r}")
    if first_id + videos - 1 > MAX_VIDEO_ID:
        raise SyntheticDataError(f"video ids go up to {first_id + videos - 1}, but PoseTrack names hold at most "
                                 f"6 digits; use fewer videos or a smaller --first-id")
    if image_set and (image_set in (".", "..") or any(c in image_set for c in "/\\")):
        raise SyntheticDataError(f"the set name must be a plain folder name such as train or val, got {image_set!r}")
    if posetrack_occluded not in ("drop", "keep"):
        raise SyntheticDataError(f"posetrack_occluded must be 'drop' or 'keep', got {posetrack_occluded!r}")
    config = VideoConfig() if config is None else config
    config = VideoConfig(**{**config.__dict__, "size": tuple(size),
                            "num_people": num_people if num_people is not None else config.num_people})
    _check_config(config)
    if detections is not None:
        _check_noise(detections)
    if scenes is not None:
        if len(scenes) != videos:
            raise SyntheticDataError(f"{len(scenes)} scenes were given for {videos} videos; give one per video")
        for scene in scenes:
            if tuple(scene.config.size) != tuple(size) or len(scene.camera) < frames:
                raise SyntheticDataError(f"a given scene is {scene.config.size} with {len(scene.camera)} camera "
                                         f"positions, but the videos are {tuple(size)} with {frames} frames")
    out = _prepare_out_dir(out_dir)

    coco = {"info": {"description": f"posetrack synthetic videos, seed {seed}"}, "images": [], "annotations": [],
            "categories": _categories(COCO17)}
    summary = {"videos": videos, "frames": 0, "labeled_frames": 0, "people": 0}
    bar = _progress(videos * frames, progress)
    start, start_cpu = time.perf_counter(), time.process_time()
    for i in range(videos):
        video_id = first_id + i
        seq = sequence_name(video_id)
        image_dir = out / "images" / seq
        if write_images:
            image_dir.mkdir(parents=True, exist_ok=True)
        video, video_tmp = None, None
        if write_videos:
            (out / "videos").mkdir(parents=True, exist_ok=True)
            video_tmp = out / "videos" / f".{seq}.partial.mp4"
            video = cv2.VideoWriter(str(video_tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, tuple(size))
            if not video.isOpened():
                raise SyntheticDataError(f"OpenCV could not open an mp4 writer for {video_tmp}; "
                                         f"pass --no-videos or install an OpenCV build with video support")
        writer = _FrameWriter(jpeg_quality)
        pt_images, pt_annotations, track_ids, dets = [], [], set(), []
        det_rng = detection_rng(seed, i)
        try:
            scene = scenes[i] if scenes is not None else make_scene(video_rng(seed, i), frames, config)
            for t in range(frames):
                bgr, truth = render_frame(scene, t, bgr=True)
                if detections is not None:
                    dets += detection_records(t, *noisy_detections(truth, size, detections, det_rng)[:2])
                writer.put(bgr, image_dir / f"{t:06d}.jpg" if write_images else None, video)
                labeled = t % label_stride == 0
                pt_images.append(posetrack_image_entry(video_id, t, frames, truth, labeled, size))
                if labeled:
                    pt_annotations += posetrack_annotations(video_id, t, truth, posetrack_occluded)
                    coco["images"].append({"id": image_id(video_id, t), "file_name": f"images/{seq}/{t:06d}.jpg",
                                           "width": size[0], "height": size[1], "vid_id": f"{video_id:06d}",
                                           "frame_id": t})
                    coco["annotations"] += coco_annotations(video_id, t, truth, len(coco["annotations"]) + 1)
                    summary["labeled_frames"] += 1
                track_ids.update(int(k) for k in truth.track_ids)
                summary["frames"] += 1
                bar.update(1)
        finally:
            writer.close()
            if video is not None:
                video.release()
        if video_tmp is not None:
            os.replace(video_tmp, out / "videos" / f"{seq}.mp4")
        write_json_atomic(out / "annotations" / image_set / f"{seq}.json",
                          {"images": pt_images, "annotations": pt_annotations,
                           "categories": _categories(POSETRACK18)})
        if detections is not None:
            write_json_atomic(out / "detections" / image_set / f"{seq}.json", dets)
        summary["people"] += len(track_ids)
    write_json_atomic(out / "coco" / (f"{image_set}.json" if image_set else "person_keypoints.json"), coco)
    bar.close()
    summary["seconds"] = time.perf_counter() - start
    summary["cpu_seconds"] = time.process_time() - start_cpu      # all threads of this process
    summary["fps"] = summary["frames"] / max(summary["seconds"], 1e-9)
    return summary


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="frame", disable=not enabled, desc="synthetic")


def _check_frames(frames) -> None:
    if not isinstance(frames, (int, np.integer)) or not 1 <= frames <= MAX_FRAMES:
        raise SyntheticDataError(f"frames must be an integer from 1 to {MAX_FRAMES} (PoseTrack image ids hold "
                                 f"4 frame digits), got {frames!r}")


def _check_config(config: VideoConfig) -> None:
    w, h = config.size
    if not (isinstance(w, (int, np.integer)) and isinstance(h, (int, np.integer)) and 32 <= w <= 8192
            and 32 <= h <= 8192):
        raise SyntheticDataError(f"size must be two integers from 32 to 8192 (width, height), got {config.size!r}")
    if config.num_people is not None and not (isinstance(config.num_people, (int, np.integer))
                                              and 0 <= config.num_people <= 200):
        raise SyntheticDataError(f"num_people must be an integer from 0 to 200, got {config.num_people!r}")
    for name in ("crowd_probability", "occluder_probability"):
        value = getattr(config, name)
        if not 0.0 <= value <= 1.0:
            raise SyntheticDataError(f"{name} must be in [0, 1], got {value!r}")


def _prepare_out_dir(out_dir: str | Path) -> Path:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SyntheticDataError(f"--out {out} is a file, not a folder; pass a folder path")
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=out, prefix=".write_test")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise SyntheticDataError(f"cannot write to the output folder {out} ({exc.strerror}); "
                                 f"pass a writable --out folder") from None
    return out


# --------------------------------------------------------------------------------------------------- CLI
def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 640x480, got {text!r}") from None
    return w, h


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one sentence, exit 2, no usage dump
        print(f"error: {message}; see --help", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m pose.data.synthetic", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output folder (created if needed)")
    p.add_argument("--videos", type=int, default=1, help="number of videos")
    p.add_argument("--frames", type=int, default=60, help="frames per video")
    p.add_argument("--seed", type=int, default=0, help="random seed; one seed gives identical output")
    p.add_argument("--size", type=_size, default=(640, 480), help="frame size WIDTHxHEIGHT (default 640x480)")
    p.add_argument("--people", type=int, default=None,
                   help="people (tracks) per video over its whole length (default: 2-6 at random)")
    p.add_argument("--label-stride", type=int, default=1, help="label every Nth frame (default every frame)")
    p.add_argument("--first-id", type=int, default=0, help="video id of the first sequence name")
    p.add_argument("--set", dest="image_set", default="",
                   help="write annotations/<SET>/<seq>.json and coco/<SET>.json (the PoseTrack training layout), "
                        "e.g. --set train --seed 1, then --set val --first-id 1000 --seed 2 into the same folder "
                        "(videos are drawn from the seed and their position in the run, not from their id: give "
                        "each set its own seed)")
    p.add_argument("--crowd-prob", type=float, default=VideoConfig.crowd_probability,
                   help="chance of a background crowd marked as an ignore region")
    p.add_argument("--occluder-prob", type=float, default=VideoConfig.occluder_probability,
                   help="chance of foreground posts that hide the people behind them")
    p.add_argument("--no-pan", action="store_true", help="keep the camera still")
    p.add_argument("--posetrack-occluded", choices=("drop", "keep"), default="drop",
                   help="hidden joints in the PoseTrack files: drop (0,0,0, default) or keep (x,y,1)")
    p.add_argument("--no-images", action="store_true",
                   help="do not write JPEG frames (the annotation files still name them)")
    p.add_argument("--no-videos", action="store_true", help="do not write mp4 files")
    noise = DetectionNoise()
    p.add_argument("--det-jitter", type=float, default=noise.jitter,
                   help=f"detections: box centre / size noise, fraction of the box size (default {noise.jitter})")
    p.add_argument("--det-miss", type=float, default=noise.miss,
                   help=f"detections: probability that a person is missed in a frame (default {noise.miss})")
    p.add_argument("--det-false", type=float, default=noise.false_positives,
                   help=f"detections: mean false boxes per frame (default {noise.false_positives})")
    p.add_argument("--det-score-noise", type=float, default=noise.score_noise,
                   help=f"detections: standard deviation of true boxes' scores (default {noise.score_noise})")
    p.add_argument("--no-detections", action="store_true", help="do not write detections/<seq>.json")
    p.add_argument("--jpeg-quality", type=int, default=90)
    p.add_argument("--benchmark", action="store_true", help="print frames per second when done")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if not 1 <= args.jpeg_quality <= 100:
            raise SyntheticDataError(f"--jpeg-quality must be from 1 to 100, got {args.jpeg_quality}")
        config = VideoConfig(camera_pan=not args.no_pan, crowd_probability=args.crowd_prob,
                             occluder_probability=args.occluder_prob)
        summary = generate_dataset(
            args.out, args.videos, args.frames, args.seed, size=args.size, num_people=args.people,
            label_stride=args.label_stride, first_id=args.first_id, write_images=not args.no_images,
            write_videos=not args.no_videos, posetrack_occluded=args.posetrack_occluded,
            jpeg_quality=args.jpeg_quality, config=config, progress=not args.quiet, image_set=args.image_set,
            detections=None if args.no_detections else DetectionNoise(
                jitter=args.det_jitter, miss=args.det_miss, false_positives=args.det_false,
                score_noise=args.det_score_noise),
        )
    except SyntheticDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {summary['videos']} videos, {summary['frames']} frames ({summary['labeled_frames']} labelled), "
          f"{summary['people']} tracks to {args.out}")
    if args.benchmark:
        cpu_ms = 1000.0 * summary["cpu_seconds"] / max(summary["frames"], 1)
        print(f"{summary['fps']:.1f} frames/s ({summary['seconds']:.2f} s wall, {cpu_ms:.1f} ms CPU per frame over "
              f"all threads, {args.size[0]}x{args.size[1]}, images={'no' if args.no_images else 'yes'}, "
              f"videos={'no' if args.no_videos else 'yes'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
