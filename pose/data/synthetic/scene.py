"""A synthetic scene and its frames: background canvas, panning camera, people placed on the ground plane and
the exact ground truth (``FrameTruth``) of every rendered frame."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterator

import cv2
import numpy as np

from pose.data.synthetic import people as sp


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
        """The way the person faces in frame ``t`` (constant here; scripted people turn, ``synthetic.hard``)."""
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
    check_frames(frames)
    config = VideoConfig() if config is None else config
    config = VideoConfig(**{**config.__dict__, "size": tuple(size), "num_people": num_people
                            if num_people is not None else config.num_people})
    check_config(config)
    scene = make_scene(video_rng(seed, video_index), frames, config)
    for t in range(frames):
        yield render_frame(scene, t)


def check_frames(frames) -> None:
    if not isinstance(frames, (int, np.integer)) or not 1 <= frames <= MAX_FRAMES:
        raise SyntheticDataError(f"frames must be an integer from 1 to {MAX_FRAMES} (PoseTrack image ids hold "
                                 f"4 frame digits), got {frames!r}")


def check_config(config: VideoConfig) -> None:
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


def round2(values) -> list[float]:
    """Numbers rounded to 2 decimals for the JSON files (pixel coordinates to 1/100 px)."""
    return [round(float(v), 2) for v in values]
