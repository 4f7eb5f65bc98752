"""Keypoint definitions: joint names, skeletons, flip pairs, OKS sigmas and mappings between layouts.

Layouts (all 0-based joint indices):
- ``COCO17``: the COCO person-keypoint order that HRNet's COCO models predict.
- ``POSETRACK18``: PoseTrack 2018's 17 joints, COCO order with the eyes replaced by ``head_bottom`` and
  ``head_top``; the ears are never annotated in PoseTrack (placeholders, always ``0, 0, 0``).
- ``POSETRACK17``: the 15 joints of PoseTrack 2017 in the order of the official evaluator (poseval), which
  is also the ``id`` of each point in a 2017 ``annolist`` file.
- ``MPII16``: the MPII order that HRNet's MPII models predict.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class KeypointLayout:
    """One joint layout: names, mirror pairs, limbs (0-based index pairs) and OKS sigmas."""

    name: str
    joints: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...]
    skeleton: tuple[tuple[int, int], ...]
    sigmas: np.ndarray  # (K,) OKS falloff per joint

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def index(self, joint: str) -> int:
        return self.joints.index(joint)

    def flip_permutation(self) -> np.ndarray:
        """(K,) index array: joint ``perm[k]`` of a mirrored person is joint ``k`` of the original."""
        perm = np.arange(self.num_joints)
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm


def _pairs_by_name(joints: tuple[str, ...], pairs: list[tuple[str, str]]) -> tuple[tuple[int, int], ...]:
    return tuple((joints.index(a), joints.index(b)) for a, b in pairs)


def _mirror_pairs(joints: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """Every ``left_X`` joint paired with its ``right_X``, in the order the left joints appear."""
    pairs = [
        tuple(sorted((i, joints.index("right_" + name[len("left_"):]))))
        for i, name in enumerate(joints)
        if name.startswith("left_")
    ]
    return tuple(sorted(pairs))


COCO17_JOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)

# COCO keypoint OKS sigmas (cocodataset.org keypoint evaluation; the values HRNet's nms.py uses).
COCO17_SIGMAS = np.array(
    [.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89]
) / 10.0

_LIMBS_COCO_NAMES = [
    ("left_ankle", "left_knee"), ("left_knee", "left_hip"), ("right_ankle", "right_knee"),
    ("right_knee", "right_hip"), ("left_hip", "right_hip"), ("left_shoulder", "left_hip"),
    ("right_shoulder", "right_hip"), ("left_shoulder", "right_shoulder"), ("left_shoulder", "left_elbow"),
    ("right_shoulder", "right_elbow"), ("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"),
]

COCO17 = KeypointLayout(
    name="coco17",
    joints=COCO17_JOINTS,
    flip_pairs=_mirror_pairs(COCO17_JOINTS),
    skeleton=_pairs_by_name(COCO17_JOINTS, _LIMBS_COCO_NAMES + [
        ("left_eye", "right_eye"), ("nose", "left_eye"), ("nose", "right_eye"), ("left_eye", "left_ear"),
        ("right_eye", "right_ear"), ("left_ear", "left_shoulder"), ("right_ear", "right_shoulder"),
    ]),
    sigmas=COCO17_SIGMAS,
)

_LIMBS_POSETRACK_HEAD = [
    ("nose", "head_top"), ("nose", "head_bottom"), ("head_bottom", "left_shoulder"), ("head_bottom", "right_shoulder"),
]

POSETRACK18_JOINTS = (
    "nose", "head_bottom", "head_top", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)
# Joints that PoseTrack never annotates; written as 0, 0, 0.
POSETRACK18_PLACEHOLDERS = ("left_ear", "right_ear")

POSETRACK18 = KeypointLayout(
    name="posetrack18",
    joints=POSETRACK18_JOINTS,
    flip_pairs=_mirror_pairs(POSETRACK18_JOINTS),
    skeleton=_pairs_by_name(POSETRACK18_JOINTS, _LIMBS_COCO_NAMES + _LIMBS_POSETRACK_HEAD),
    # PoseTrack has no sigmas of its own; FlowTrack/HRNet used the COCO ones for the shared slots. The head
    # slots (1, 2) take the eye sigmas' place in the same positions.
    sigmas=COCO17_SIGMAS.copy(),
)

POSETRACK17_JOINTS = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
    "head_bottom", "nose", "head_top",
)

POSETRACK17 = KeypointLayout(
    name="posetrack17",
    joints=POSETRACK17_JOINTS,
    flip_pairs=_mirror_pairs(POSETRACK17_JOINTS),
    skeleton=_pairs_by_name(POSETRACK17_JOINTS, _LIMBS_COCO_NAMES + _LIMBS_POSETRACK_HEAD),
    sigmas=np.array([COCO17_SIGMAS[POSETRACK18_JOINTS.index(j)] for j in POSETRACK17_JOINTS]),
)

MPII16_JOINTS = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "pelvis", "thorax", "upper_neck", "head_top",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
)

MPII16 = KeypointLayout(
    name="mpii16",
    joints=MPII16_JOINTS,
    flip_pairs=_mirror_pairs(MPII16_JOINTS),
    skeleton=_pairs_by_name(MPII16_JOINTS, [
        ("right_ankle", "right_knee"), ("right_knee", "right_hip"), ("right_hip", "pelvis"),
        ("left_ankle", "left_knee"), ("left_knee", "left_hip"), ("left_hip", "pelvis"),
        ("pelvis", "thorax"), ("thorax", "upper_neck"), ("upper_neck", "head_top"),
        ("right_wrist", "right_elbow"), ("right_elbow", "right_shoulder"), ("right_shoulder", "thorax"),
        ("left_wrist", "left_elbow"), ("left_elbow", "left_shoulder"), ("left_shoulder", "thorax"),
    ]),
    # MPII has no OKS sigmas; the COCO values of the matching body joints, and the head/neck ones for the
    # trunk joints that COCO lacks, give a usable OKS for MPII-layout poses.
    sigmas=np.array([.089, .087, .107, .107, .087, .089, .107, .079, .079, .026,
                     .062, .072, .079, .079, .072, .062]),
)

LAYOUTS = {layout.name: layout for layout in (COCO17, POSETRACK18, POSETRACK17, MPII16)}


def get_layout(name: str) -> KeypointLayout:
    try:
        return LAYOUTS[name]
    except KeyError:
        raise ValueError(f"unknown keypoint layout {name!r}; choose one of {sorted(LAYOUTS)}") from None


# Where the source joints of a mapping come from, for joints that do not share a name.
# PoseTrack's head_bottom is the neck (MPII upper_neck); its head_top is MPII's head_top.
_ALIASES = {
    ("mpii16", "posetrack18"): {"upper_neck": "head_bottom"},
    ("mpii16", "posetrack17"): {"upper_neck": "head_bottom"},
}


def joint_mapping(src: str | KeypointLayout, dst: str | KeypointLayout) -> np.ndarray:
    """(K_dst,) int array: for every joint of ``dst``, its index in ``src``, or -1 where ``src`` lacks it.

    Joints are matched by name (plus the neck alias between MPII and PoseTrack). COCO's eyes have no
    counterpart in PoseTrack: mapping COCO -> PoseTrack leaves ``head_bottom``/``head_top`` at -1.
    """
    src = get_layout(src) if isinstance(src, str) else src
    dst = get_layout(dst) if isinstance(dst, str) else dst
    aliases = _ALIASES.get((src.name, dst.name)) or {
        theirs: ours for ours, theirs in _ALIASES.get((dst.name, src.name), {}).items()}
    src_names = [aliases.get(n, n) for n in src.joints]
    return np.array([src_names.index(n) if n in src_names else -1 for n in dst.joints], dtype=np.int64)


def convert_keypoints(
    keypoints: np.ndarray, scores: np.ndarray | None, src: str | KeypointLayout, dst: str | KeypointLayout
) -> tuple[np.ndarray, np.ndarray]:
    """Re-order keypoints from one layout to another.

    keypoints: (N, K_src, 2); scores: (N, K_src) or None (taken as ones).
    Returns keypoints (N, K_dst, 2) and scores (N, K_dst); joints missing in ``src`` get (0, 0) and score 0.
    """
    keypoints = np.asarray(keypoints, dtype=np.float32)
    n = keypoints.shape[0]
    scores = np.ones(keypoints.shape[:2], np.float32) if scores is None else np.asarray(scores, np.float32)
    mapping = joint_mapping(src, dst)
    have = mapping >= 0
    out_kp = np.zeros((n, len(mapping), 2), np.float32)
    out_sc = np.zeros((n, len(mapping)), np.float32)
    out_kp[:, have] = keypoints[:, mapping[have]]
    out_sc[:, have] = scores[:, mapping[have]]
    return out_kp, out_sc
