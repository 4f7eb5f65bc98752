"""Articulated people for the synthetic video generator: body model, motion cycles and drawing.

A person is a 3D stick body (pelvis, torso, head, two arms, two legs) posed by a walking, running, waving or
standing cycle, turned by a yaw angle and projected orthographically onto the image. It is drawn as textured,
tapered limbs (filled convex polygons plus round joint caps, all with cv2 at 1/16 pixel precision) in far-to-near
order, so the body occludes itself correctly. What makes left and right learnable: the person's left limbs are a
lighter shade of the clothing colour and the right limbs a darker one, and the face (eyes, nose, mouth) is on the
side the person faces, with the hair behind it.

Coordinates: camera space has X to the image right, Y up and Z away from the camera (depth); a person's own axes
are L (their left), U (up) and F (forward, the way they face). Yaw 0 faces the camera (their left appears on the
image right); yaw +90 degrees faces the image right.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

# Points of the body model. The first 17 are the COCO keypoints in COCO order; the rest serve drawing and the
# PoseTrack head joints (head_bottom = neck, head_top = top of the head).
POINT_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "neck", "head_center", "head_top", "pelvis", "left_toe", "right_toe", "left_hand", "right_hand",
    "hair_center", "mouth",
)
P = {name: i for i, name in enumerate(POINT_NAMES)}
NUM_COCO = 17

# Part ids of the drawing (0 = empty). Clothing parts (1-5) carry the person's texture.
TORSO, LEFT_ARM, RIGHT_ARM, LEFT_LEG, RIGHT_LEG, SKIN, SHOES, HAIR, EYES, NOSE, MOUTH, EARS = range(1, 13)
NUM_PARTS = 13
TEXTURED = np.zeros(NUM_PARTS, bool)
TEXTURED[[TORSO, LEFT_ARM, RIGHT_ARM, LEFT_LEG, RIGHT_LEG]] = True
_TEXTURED_LUT = np.zeros(256, np.uint8)
_TEXTURED_LUT[:NUM_PARTS][TEXTURED] = 255
INTENSITY_ONE = 128                     # texture intensities are stored as uint8 with 1.0 = 128
_UNIT_INTENSITY = np.uint8(INTENSITY_ONE)
TEXTURED.setflags(write=False)
_TEXTURED_LUT.setflags(write=False)

# Body proportions as fractions of the standing height (roughly Drillis & Contini's segment lengths).
THIGH, SHIN, FOOT_HEIGHT = 0.245, 0.245, 0.035
TORSO_LEN = 0.29              # pelvis to neck
HIP_HALF_WIDTH = 0.085
SHOULDER_HALF_WIDTH = 0.115
SHOULDER_DROP = 0.03          # shoulders sit below the neck point
NECK_TO_HEAD = 0.075          # neck to head centre
HEAD_RADIUS = 0.062
UPPER_ARM, FOREARM, HAND = 0.17, 0.15, 0.045
TOE = 0.075
CHEST_DEPTH = 0.055           # half-thickness of the torso seen from the side

# Half-widths (fraction of height) at the two ends of each limb segment.
WIDTH_UPPER_ARM, WIDTH_FOREARM = (0.030, 0.024), (0.023, 0.017)
WIDTH_THIGH, WIDTH_SHIN = (0.047, 0.034), (0.033, 0.024)
WIDTH_FOOT, WIDTH_NECK = (0.022, 0.018), (0.026, 0.026)
HAND_RADIUS = 0.022

MOTIONS = ("walk", "run", "wave", "stand")

# Face points: unit normals on the head sphere in the person's (L, U, F) axes; a face point is visible when its
# normal does not point away from the camera (z component below this threshold: grazing points at the
# silhouette count as visible).
FACE_VISIBLE_MAX_Z = 0.2


@dataclass(frozen=True)
class Motion:
    """A periodic movement: ``kind`` in MOTIONS, ``frequency`` in cycles per frame, ``phase`` in cycles, an
    ``amplitude`` factor, and for waving which arms wave (``wave_arms`` (2,) bool: left, right).

    On top of the cycle, arms that do not wave make a slow gesture: ``gesture`` ((swing, raise, elbow) extra
    radians for the left arm, then the right) reached at the peak of a cycle of ``gesture_frequency``."""

    kind: str
    frequency: float
    phase: float
    amplitude: float = 1.0
    wave_arms: tuple[bool, bool] = (False, True)
    gesture: tuple[float, float, float, float, float, float] = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    gesture_frequency: float = 0.0
    gesture_phase: float = 0.0


@dataclass(frozen=True)
class Appearance:
    """How a person looks: ``colors`` (NUM_PARTS, 3) float32 RGB per part id, ``texture`` (S, S) float32
    intensity tile for the clothes (moves with the person), ``build`` a width factor, ``short_sleeves``.
    ``color_lut`` (256, 1, 3) uint8 BGR and ``texture_u8`` (S, S) uint8 (1.0 = INTENSITY_ONE) are the same for
    drawing with cv2, which works in BGR order.
    ``proportions``: (legs, arms, shoulder width) factors of the body model."""

    colors: np.ndarray
    texture: np.ndarray
    build: float
    short_sleeves: bool
    color_lut: np.ndarray
    texture_u8: np.ndarray
    proportions: tuple[float, float, float] = (1.0, 1.0, 1.0)


@dataclass(frozen=True)
class Angles:
    """Joint angles (radians) of one pose; index 0 = left, 1 = right."""

    leg_swing: np.ndarray      # (2,) thigh forward from hanging
    knee: np.ndarray           # (2,) knee flexion (shin bends backward)
    arm_swing: np.ndarray      # (2,) upper arm forward from hanging
    arm_raise: np.ndarray      # (2,) upper arm sideways (outward) from hanging
    elbow: np.ndarray          # (2,) elbow flexion
    elbow_up: np.ndarray       # (2,) bool: the forearm bends upward (waving) instead of forward
    lean: float                # torso forward lean
    head_tilt: float           # head sideways tilt


def motion_angles(motion: Motion, t: float) -> Angles:
    """The joint angles of ``motion`` at frame ``t``: its cycle plus the slow gesture of the free arms."""
    angles = _cycle_angles(motion, t)
    if not any(motion.gesture):
        return angles
    level = 0.5 - 0.5 * math.cos(2.0 * math.pi * (motion.gesture_frequency * t + motion.gesture_phase))
    g = np.asarray(motion.gesture, np.float64).reshape(2, 3) * level
    free = ~np.asarray(angles.elbow_up, bool) if motion.kind == "wave" else np.ones(2, bool)
    g[~free] = 0.0
    return replace(angles, arm_swing=angles.arm_swing + g[:, 0], arm_raise=angles.arm_raise + g[:, 1],
                   elbow=angles.elbow + g[:, 2])


def _cycle_angles(motion: Motion, t: float) -> Angles:
    phi = 2.0 * np.pi * (motion.frequency * t + motion.phase)
    s, c = np.sin(phi), np.cos(phi)
    a = motion.amplitude
    no = np.zeros(2, bool)
    if motion.kind == "walk":
        swing = 0.42 * a
        return Angles(
            leg_swing=np.array([swing * s, -swing * s]),
            knee=np.array([0.08 + 0.6 * a * max(0.0, c), 0.08 + 0.6 * a * max(0.0, -c)]),
            arm_swing=np.array([-0.75 * swing * s, 0.75 * swing * s]),
            arm_raise=np.array([0.08, 0.08]),
            elbow=np.array([0.25 + 0.3 * max(0.0, -s), 0.25 + 0.3 * max(0.0, s)]),
            elbow_up=no, lean=0.05, head_tilt=0.0,
        )
    if motion.kind == "run":
        swing = 0.65 * a
        return Angles(
            leg_swing=np.array([swing * s + 0.1, -swing * s + 0.1]),
            knee=np.array([0.3 + 1.3 * a * max(0.0, c), 0.3 + 1.3 * a * max(0.0, -c)]),
            arm_swing=np.array([-0.9 * swing * s, 0.9 * swing * s]),
            arm_raise=np.array([0.15, 0.15]),
            elbow=np.array([1.45, 1.45]),
            elbow_up=no, lean=0.2, head_tilt=0.0,
        )
    sway = 0.04 * np.sin(phi * 0.5)
    if motion.kind == "wave":
        waving = np.array(motion.wave_arms, bool)
        return Angles(
            leg_swing=np.array([sway, sway]),
            knee=np.array([0.05, 0.05]),
            arm_swing=np.where(waving, 0.15, 0.05 * s),
            arm_raise=np.where(waving, 2.0 + 0.15 * a * c, 0.1),
            elbow=np.where(waving, 0.9 + 0.6 * a * s, 0.2),
            elbow_up=waving, lean=0.0, head_tilt=0.05 * s,
        )
    # stand: breathing sway and a slow arm gesture
    return Angles(
        leg_swing=np.array([sway + 0.05, sway - 0.05]),
        knee=np.array([0.05, 0.08]),
        arm_swing=np.array([0.1 + 0.25 * a * max(0.0, s), 0.1]),
        arm_raise=np.array([0.12, 0.12]),
        elbow=np.array([0.3 + 0.9 * a * max(0.0, s), 0.3]),
        elbow_up=no, lean=0.0, head_tilt=0.04 * s,
    )


def _unit(v: np.ndarray) -> np.ndarray:
    return v / math.sqrt(float(v @ v))


def body_points(
    angles: Angles, yaw: float, proportions: tuple[float, float, float] = (1.0, 1.0, 1.0),
) -> np.ndarray:
    """3D points of the posed body, (len(POINT_NAMES), 3) in camera axes, in units of the standing height,
    relative to the pelvis. ``proportions`` scales the (legs, arms, shoulder width) of the average body."""
    legs, arms, shoulders = proportions
    F = np.array([math.sin(yaw), 0.0, -math.cos(yaw)])
    U = np.array([0.0, 1.0, 0.0])
    L = np.array([math.cos(yaw), 0.0, math.sin(yaw)])      # F x U
    pts = np.zeros((len(POINT_NAMES), 3))

    Ut = U * np.cos(angles.lean) + F * np.sin(angles.lean)     # torso axis
    Ft = F * np.cos(angles.lean) - U * np.sin(angles.lean)      # U x L = F
    neck = Ut * TORSO_LEN
    pts[P["neck"]] = neck
    Uh = _unit(Ut + L * np.sin(angles.head_tilt))              # head axis
    head = neck + Uh * NECK_TO_HEAD
    pts[P["head_center"]] = head
    pts[P["head_top"]] = head + Uh * HEAD_RADIUS
    pts[P["hair_center"]] = head + HEAD_RADIUS * (0.25 * Uh - 0.3 * Ft)
    pts[P["nose"]] = head + HEAD_RADIUS * 1.05 * _unit(Ft - 0.15 * Uh)
    pts[P["mouth"]] = head + HEAD_RADIUS * _unit(Ft - 0.6 * Uh)
    for side, s in (("left", 1.0), ("right", -1.0)):
        pts[P[f"{side}_eye"]] = head + HEAD_RADIUS * _unit(0.85 * Ft + 0.45 * s * L + 0.25 * Uh)
        pts[P[f"{side}_ear"]] = head + HEAD_RADIUS * _unit(s * L - 0.1 * Ft)

    for k, (side, s) in enumerate((("left", 1.0), ("right", -1.0))):
        shoulder = neck - Ut * SHOULDER_DROP + s * L * SHOULDER_HALF_WIDTH * shoulders
        down_fwd = -Ut * np.cos(angles.arm_swing[k]) + Ft * np.sin(angles.arm_swing[k])
        upper = down_fwd * np.cos(angles.arm_raise[k]) + s * L * np.sin(angles.arm_raise[k])
        ref = U if angles.elbow_up[k] else Ft
        bend = _unit(ref - np.dot(ref, upper) * upper)
        fore = upper * np.cos(angles.elbow[k]) + bend * np.sin(angles.elbow[k])
        elbow = shoulder + upper * UPPER_ARM * arms
        wrist = elbow + fore * FOREARM * arms
        pts[P[f"{side}_shoulder"]] = shoulder
        pts[P[f"{side}_elbow"]] = elbow
        pts[P[f"{side}_wrist"]] = wrist
        pts[P[f"{side}_hand"]] = wrist + fore * HAND

        hip = s * L * HIP_HALF_WIDTH
        thigh = -U * np.cos(angles.leg_swing[k]) + F * np.sin(angles.leg_swing[k]) + 0.03 * s * L
        shin_angle = angles.leg_swing[k] - angles.knee[k]
        shin = -U * np.cos(shin_angle) + F * np.sin(shin_angle)
        knee = hip + _unit(thigh) * THIGH * legs
        ankle = knee + shin * SHIN * legs
        pts[P[f"{side}_hip"]] = hip
        pts[P[f"{side}_knee"]] = knee
        pts[P[f"{side}_ankle"]] = ankle
        pts[P[f"{side}_toe"]] = ankle + F * TOE - U * (FOOT_HEIGHT * 0.6)
    return pts


def face_visible(points3d: np.ndarray) -> np.ndarray:
    """(len(POINT_NAMES),) bool: False for face points (nose, eyes, ears, mouth) turned away from the camera."""
    visible = np.ones(len(POINT_NAMES), bool)
    head = points3d[P["head_center"]]
    for name in ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "mouth"):
        normal = _unit(points3d[P[name]] - head)
        visible[P[name]] = normal[2] < FACE_VISIBLE_MAX_Z
    return visible


def project(points3d: np.ndarray, root_xy: tuple[float, float], height: float) -> tuple[np.ndarray, np.ndarray]:
    """Orthographic projection: image points (M, 2) float64 and depths (M,) for a person ``height`` pixels tall
    whose lowest foot point rests at ``root_xy`` = (x, ground y)."""
    xy = np.empty((len(points3d), 2))
    xy[:, 0] = points3d[:, 0] * height
    xy[:, 1] = -points3d[:, 1] * height
    feet = [P["left_toe"], P["right_toe"], P["left_ankle"], P["right_ankle"]]
    lowest = xy[feet, 1].max() + FOOT_HEIGHT * 0.4 * height
    xy[:, 0] += root_xy[0]
    xy[:, 1] += root_xy[1] - lowest
    return xy, points3d[:, 2] * height


# Limb segments: (start point, end point, half-widths at both ends, part id, depth bias in heights). Forearms
# take the sleeve colour, or skin with short sleeves.
LIMBS = (
    (P["left_shoulder"], P["left_elbow"], WIDTH_UPPER_ARM, LEFT_ARM, 0.0),
    (P["left_elbow"], P["left_wrist"], WIDTH_FOREARM, LEFT_ARM, 0.0),
    (P["left_wrist"], P["left_hand"], (WIDTH_FOREARM[1] * 0.9, HAND_RADIUS * 0.8), SKIN, 0.0),
    (P["right_shoulder"], P["right_elbow"], WIDTH_UPPER_ARM, RIGHT_ARM, 0.0),
    (P["right_elbow"], P["right_wrist"], WIDTH_FOREARM, RIGHT_ARM, 0.0),
    (P["right_wrist"], P["right_hand"], (WIDTH_FOREARM[1] * 0.9, HAND_RADIUS * 0.8), SKIN, 0.0),
    (P["left_hip"], P["left_knee"], WIDTH_THIGH, LEFT_LEG, 0.0),
    (P["left_knee"], P["left_ankle"], WIDTH_SHIN, LEFT_LEG, 0.0),
    (P["left_ankle"], P["left_toe"], WIDTH_FOOT, SHOES, -0.001),
    (P["right_hip"], P["right_knee"], WIDTH_THIGH, RIGHT_LEG, 0.0),
    (P["right_knee"], P["right_ankle"], WIDTH_SHIN, RIGHT_LEG, 0.0),
    (P["right_ankle"], P["right_toe"], WIDTH_FOOT, SHOES, -0.001),
    (P["neck"], P["head_center"], WIDTH_NECK, SKIN, 0.01),
)
_LIMB_I = np.array([l[0] for l in LIMBS])
_LIMB_J = np.array([l[1] for l in LIMBS])
_LIMB_W = np.array([l[2] for l in LIMBS], np.float64)          # (M, 2)
_LIMB_PART = np.array([l[3] for l in LIMBS])
_LIMB_BIAS = np.array([l[4] for l in LIMBS])
_LIMB_IS_FOREARM = np.isin(_LIMB_J, [P["left_wrist"], P["right_wrist"]])

# Discs: (centre point, radius as a fraction of height, part id, depth bias in heights). Face features (eyes,
# nose, mouth, ears) only where they face the camera; ears at the head's silhouette stick out half.
DISCS = (
    (P["left_hand"], HAND_RADIUS, SKIN, 0.0),
    (P["right_hand"], HAND_RADIUS, SKIN, 0.0),
    (P["hair_center"], HEAD_RADIUS * 0.98, HAIR, 0.001),
    (P["head_center"], HEAD_RADIUS, SKIN, 0.0),
    (P["left_eye"], HEAD_RADIUS * 0.13, EYES, -0.002),
    (P["right_eye"], HEAD_RADIUS * 0.13, EYES, -0.002),
    (P["nose"], HEAD_RADIUS * 0.2, NOSE, -0.002),
    (P["mouth"], HEAD_RADIUS * 0.14, MOUTH, -0.002),
    (P["left_ear"], HEAD_RADIUS * 0.28, EARS, 0.0),
    (P["right_ear"], HEAD_RADIUS * 0.28, EARS, 0.0),
)
_DISC_I = np.array([d[0] for d in DISCS])
_DISC_R = np.array([d[1] for d in DISCS])
_DISC_PART = np.array([d[2] for d in DISCS])
_DISC_BIAS = np.array([d[3] for d in DISCS])
_DISC_BUILD = np.isin(_DISC_PART, [SKIN]) & ~np.isin(_DISC_I, [P["head_center"]])   # hands scale with build
_TORSO_CORNERS = np.array([P["left_shoulder"], P["right_shoulder"], P["right_hip"], P["left_hip"]])
for _table in (_LIMB_I, _LIMB_J, _LIMB_W, _LIMB_PART, _LIMB_BIAS, _LIMB_IS_FOREARM, _DISC_I, _DISC_R, _DISC_PART,
               _DISC_BIAS, _DISC_BUILD, _TORSO_CORNERS):
    _table.setflags(write=False)


def draw_parts(
    partmap: np.ndarray, xy: np.ndarray, depth: np.ndarray, height: float, yaw: float, appearance: Appearance,
    face: np.ndarray,
) -> None:
    """Draw the body's part ids into ``partmap`` (h, w) uint8, far parts first, at 1/16 pixel precision.

    xy: (M, 2) image points already shifted into the partmap's frame; depth: (M,) (larger = farther);
    face: (M,) bool visibility of the face points, from ``face_visible``.
    """
    h, b = height, appearance.build
    # Limbs: tapered quadrilaterals with round caps at both ends.
    a, e = xy[_LIMB_I], xy[_LIMB_J]
    widths = _LIMB_W * (h * b)
    d = e - a
    length = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-9)
    perp = np.stack([-d[:, 1], d[:, 0]], axis=1) / length[:, None]
    wa, wb = widths[:, :1], widths[:, 1:]
    polys = np.round(np.stack([a + perp * wa, e + perp * wb, e - perp * wb, a - perp * wa], axis=1) * 16).astype(
        np.int32)
    a_fx = np.round(a * 16).astype(np.int32).tolist()
    e_fx = np.round(e * 16).astype(np.int32).tolist()
    w_fx = np.round(widths * 16).astype(np.int32).tolist()
    parts = np.where(_LIMB_IS_FOREARM, SKIN, _LIMB_PART) if appearance.short_sleeves else _LIMB_PART
    limb_depth = 0.5 * (depth[_LIMB_I] + depth[_LIMB_J]) + _LIMB_BIAS * h
    has_area = length > 1e-3

    # Discs: hands, hair, head and the face features that face the camera.
    radius = _DISC_R * h * np.where(_DISC_BUILD, b, 1.0)
    radius = np.maximum(radius, np.where(_DISC_PART >= EYES, 0.8, 0.0))
    c_fx = np.round(xy[_DISC_I] * 16).astype(np.int32).tolist()
    r_fx = np.round(radius * 16).astype(np.int32).tolist()
    disc_depth = depth[_DISC_I] + _DISC_BIAS * h
    shown = face[_DISC_I] | (_DISC_PART < EYES)

    # Torso: convex hull of shoulders and hips thickened along the facing direction, a little behind the limbs
    # attached to it so that limbs at the same depth are drawn on top; shoulder discs round it off.
    thick = np.array([np.sin(yaw), 0.0]) * CHEST_DEPTH * h * b
    corners = xy[_TORSO_CORNERS]
    hull_pts = np.concatenate([corners + thick, corners - thick, xy[[P["neck"], P["pelvis"]]]]).astype(np.float32)
    hull = np.round(cv2.convexHull(hull_pts)[:, 0, :] * 16).astype(np.int32)
    torso_depth = 0.5 * (depth[P["pelvis"]] + depth[P["neck"]]) + 0.02 * h
    shoulder_fx = np.round(xy[[P["left_shoulder"], P["right_shoulder"]]] * 16).astype(np.int32).tolist()
    shoulder_r = int(round(WIDTH_UPPER_ARM[0] * h * b * 16))

    n_limbs = len(LIMBS)
    depths = np.concatenate([limb_depth, disc_depth, [torso_depth]])
    for k in np.argsort(-depths, kind="stable").tolist():
        if k < n_limbs:
            part = int(parts[k])
            cv2.circle(partmap, a_fx[k], w_fx[k][0], part, -1, cv2.LINE_8, 4)
            cv2.circle(partmap, e_fx[k], w_fx[k][1], part, -1, cv2.LINE_8, 4)
            if has_area[k]:
                cv2.fillConvexPoly(partmap, polys[k], part, cv2.LINE_8, 4)
        elif k < n_limbs + len(DISCS):
            i = k - n_limbs
            if shown[i]:
                cv2.circle(partmap, c_fx[i], r_fx[i], int(_DISC_PART[i]), -1, cv2.LINE_8, 4)
        else:
            cv2.fillConvexPoly(partmap, hull, TORSO, cv2.LINE_8, 4)
            for center in shoulder_fx:
                cv2.circle(partmap, center, shoulder_r, TORSO, -1, cv2.LINE_8, 4)


def body_extent(height: float, build: float) -> float:
    """Margin in pixels around the projected points that a drawn body can reach."""
    return (max(WIDTH_THIGH[0], HEAD_RADIUS, CHEST_DEPTH) * build + 0.01) * height + 2.0


def composite(
    image: np.ndarray, owner: np.ndarray, partmap: np.ndarray, x0: int, y0: int, appearance: Appearance,
    texture_origin: tuple[int, int], slot: int,
) -> np.ndarray:
    """Paint a drawn part map onto ``image`` (H, W, 3) uint8 BGR at (x0, y0) and write ``slot`` into ``owner``.

    Clothing pixels are the part colour times the person's texture tile, anchored at ``texture_origin`` so the
    texture moves with the person. Dense cv2 operations on the crop. Returns the (h, w) bool mask painted.
    """
    h, w = partmap.shape
    tile = appearance.texture_u8
    size = tile.shape[0]
    sy, sx = (y0 - texture_origin[1]) % size, (x0 - texture_origin[0]) % size
    texture = np.tile(tile, ((h + sy) // size + 1, (w + sx) // size + 1))[sy:sy + h, sx:sx + w]
    textured = cv2.LUT(partmap, _TEXTURED_LUT)                  # 255 on clothing, 0 elsewhere
    intensity = np.where(textured > 0, texture, _UNIT_INTENSITY)
    colors = cv2.LUT(cv2.merge([partmap, partmap, partmap]), appearance.color_lut)
    rgb = cv2.multiply(colors, cv2.merge([intensity, intensity, intensity]), scale=1.0 / INTENSITY_ONE)
    mask = partmap > 0
    crop = image[y0:y0 + h, x0:x0 + w]
    out = cv2.copyTo(rgb, mask.view(np.uint8), crop)            # writes into the view, in place
    if not np.shares_memory(out, image):                        # (an OpenCV build that copies instead)
        crop[mask] = rgb[mask]
    owner[y0:y0 + h, x0:x0 + w][mask] = slot
    return mask


def random_appearance(rng: np.random.Generator, tile_size: int = 64) -> Appearance:
    """Random clothing colours, skin, hair and a clothing texture (stripes, checks, noise or plain)."""
    def color(lo: float = 20, hi: float = 235) -> np.ndarray:
        return rng.uniform(lo, hi, 3)

    shirt, pants = color(), color(10, 200)
    skin = np.array([224, 172, 135]) * rng.uniform(0.45, 1.1)
    colors = np.zeros((NUM_PARTS, 3), np.float32)
    colors[TORSO] = shirt
    # Left limbs lighter, right limbs darker: a cue that makes the two sides distinguishable.
    colors[LEFT_ARM] = shirt * 0.65 + 255 * 0.35
    colors[RIGHT_ARM] = shirt * 0.55
    colors[LEFT_LEG] = pants * 0.65 + 255 * 0.35
    colors[RIGHT_LEG] = pants * 0.55
    colors[SKIN] = np.clip(skin, 0, 255)
    colors[SHOES] = color(0, 90)
    colors[HAIR] = color(0, 120) if rng.random() < 0.8 else color(150, 230)
    colors[EYES] = (25, 20, 20)
    colors[NOSE] = (200, 40, 40)     # a strong nose colour: the face direction is easy to see
    colors[MOUTH] = (120, 20, 30)
    colors[EARS] = colors[SKIN] * 0.8

    yy, xx = np.mgrid[0:tile_size, 0:tile_size].astype(np.float32)
    kind = rng.integers(5)
    period = rng.uniform(5, 16)
    if kind == 0:      # horizontal stripes
        tex = (np.sin(2 * np.pi * yy / period) > 0).astype(np.float32)
    elif kind == 1:    # diagonal stripes
        tex = (np.sin(2 * np.pi * (xx + yy) / period) > 0).astype(np.float32)
    elif kind == 2:    # checks
        tex = ((np.sin(2 * np.pi * xx / period) > 0) ^ (np.sin(2 * np.pi * yy / period) > 0)).astype(np.float32)
    elif kind == 3:    # smooth noise
        small = rng.random((tile_size // 8, tile_size // 8)).astype(np.float32)
        tex = cv2.resize(np.tile(small, (2, 2)), (tile_size * 2, tile_size * 2), interpolation=cv2.INTER_CUBIC)
        tex = tex[tile_size // 2: tile_size // 2 + tile_size, tile_size // 2: tile_size // 2 + tile_size]
    else:              # plain cloth
        tex = np.full((tile_size, tile_size), 0.5, np.float32)
    contrast = rng.uniform(0.15, 0.45)
    grain = rng.normal(0.0, 0.04, (tile_size, tile_size)).astype(np.float32)
    texture = (1.0 - contrast / 2 + contrast * np.clip(tex, 0, 1) + grain).astype(np.float32)
    lut = np.zeros((256, 1, 3), np.uint8)
    lut[:NUM_PARTS, 0] = np.round(np.clip(colors[:, ::-1], 0, 255))
    texture_u8 = np.round(np.clip(texture, 0, 1.99) * INTENSITY_ONE).astype(np.uint8)
    return Appearance(colors=colors, texture=texture, build=float(rng.uniform(0.85, 1.2)),
                      short_sleeves=bool(rng.random() < 0.3), color_lut=lut, texture_u8=texture_u8,
                      proportions=tuple(float(v) for v in rng.uniform([0.92, 0.9, 0.85], [1.08, 1.1, 1.15])))
