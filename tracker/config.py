"""Tracking configs: ``configs/track/*.yaml`` read into dataclasses, with ``section.key=value`` overrides.

A track config has the sections ``detector``, ``pose``, ``flow``, ``nms``, ``association`` and ``output`` plus a
top-level ``device``. Every key has a default here (the FlowTrack / HRNet-PoseTrack settings, or, where the
papers leave a constant open, the value ``configs/track/default.yaml`` documents), so a YAML names only what
differs. ``load_track_config`` takes a path or the name of a file in ``configs/track/``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from flow.classical import DIS_PRESETS
from pose.config import ConfigError, build_section, coerce_value, resolve_config_path
from pose.config import apply_overrides as apply_config_overrides  # one override parser for both configs
from pose.precision import PRECISIONS, RUNTIMES
from posetrack_common.boxes import PERSON_BOX_EXTEND
from tracker.smoothing import ONLINE_MODES


SIMILARITIES = ("box_iou", "oks", "flow_oks", "multi_flow_oks")


class TrackConfigError(ConfigError):
    """A track config file or override that cannot be used; the message names the key and the fix."""


class _Section:
    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class DetectorConfig(_Section):
    kind: str = "torchvision"                  # torchvision | onnx | file
    arch: str = "fasterrcnn_resnet50_fpn_v2"   # torchvision detection builder name
    weights: str = "DEFAULT"                   # torchvision weights name, a .pth path, or none (random)
    path: str = ""                             # the .onnx model (kind onnx) or the detection JSON (kind file)
    score_threshold: float = 0.5               # FlowTrack: person boxes scoring below 0.5 are dropped
    nms_threshold: float = 0.45                # YOLOX class-wise NMS IoU (YOLOX demo value)
    input_size: int = 416                      # YOLOX letterbox side when the ONNX input is dynamic
    threads: int = 0                           # onnxruntime intra-op threads (0 = its default)
    every: int = 1                             # detect on every k-th frame; flow-propagated boxes in between


@dataclass(frozen=True)
class PoseConfig(_Section):
    model: str = ""                            # config name in configs/pose/ or a YAML path; "" = the config of the
                                               # named weights' registry entry, else coco_w32_256x192
    weights: str = ""                          # checkpoint path or registry name; "random" = untrained weights
    flip_test: bool = True                     # HRNet test setting: average with the flipped image's heatmaps
    batch_size: int = 0                        # crops per forward pass, flipped copies included; 0 = 8 on CPU, 64 on GPU
    layout: str = ""                           # weights' keypoint layout; "" = registry entry, else pose config


@dataclass(frozen=True)
class InferenceConfig(_Section):
    precision: str = "fp32"                    # auto | fp32 | bf16 | fp16 | int8 (pose.precision): number format of
                                               # the pose network (and the detector / learned flow where it holds)
    runtime: str = "auto"                      # auto | pytorch | onnxruntime | openvino: what runs the pose network
    threads: int = 0                           # intra-op threads of onnxruntime / openvino; 0 = their default


@dataclass(frozen=True)
class FlowConfig(_Section):
    name: str = "dis"                          # flow.get_estimator name: dis, farneback, tvl1, flownet2, ...
    checkpoint: str = ""                       # learned backends' weights: "" = trained, "random", a name or path
    preset: str = ""                           # DIS speed/accuracy preset: ultrafast | fast | medium ("" = medium)
    propagate: bool = True                     # FlowTrack joint propagation: previous poses' boxes moved by flow
    box_extend: float = PERSON_BOX_EXTEND      # propagated box: joints' box 15% longer (posetrack_common.boxes)
    box_joint_threshold: float = 0.4           # joints of a previous pose that shape its propagated box
    propagated_box_score: float = 0.9          # x previous box score per detector frame missing the person
    min_box_joints: int = 2                    # a previous pose with fewer such joints propagates no box


@dataclass(frozen=True)
class NmsConfig(_Section):
    iou_threshold: float = 0.5                 # box NMS of detected + propagated boxes (paper leaves it open)
    pose_oks_threshold: float = 0.5            # OKS-NMS of the estimated poses (0 = off): one person seen through a
                                               # detected and a propagated box that overlap less than iou_threshold


@dataclass(frozen=True)
class AssociationConfig(_Section):
    similarity: str = "multi_flow_oks"         # box_iou | oks | flow_oks | multi_flow_oks (FlowTrack ablation)
    memory: int = 3                            # L: a track unseen for up to L frames can still be matched
    match_threshold: float = 0.3               # greedy matching keeps pairs with similarity above this
    joint_threshold: float = 0.4               # joints used in OKS: both poses' scores above this (our choice)
    area_scale: float = 1.0                    # OKS object area = this x area of the tracked pose's box
    lost_seconds: float = 5.0                  # re-entry (tracker.reentry): a track unseen in a frame stays lost,
                                               # and can take back a pose, for this many seconds; 0 = off
    reentry_motion: bool = True                # re-entry cue: constant-velocity box motion (with its gate)
    reentry_shape: bool = True                 # re-entry cue: limb-length ratios normalised by torso length
    reentry_colour: bool = True                # re-entry cue: torso and leg colour histograms
    reentry_max_cost: float = 0.5              # a lost track and a pose are matched below this combined cost


@dataclass(frozen=True)
class OutputConfig(_Section):
    joint_score_threshold: float = 0.4         # FlowTrack: joints scoring below 0.4 are left out of the output
    min_pose_score: float = 0.0                # people whose mean kept-joint score is below this are dropped
    head_lift: float = 0.5                     # coco17 -> head_bottom: shoulders' midpoint moved this far to the nose
    head_top_scale: float = 1.0                # coco17 -> head_top: nose + this x (nose - head_bottom)


@dataclass(frozen=True)
class SmoothingConfig(_Section):
    online: str = "auto"                       # auto | on | off: One-Euro filter of the output joints; auto = on
                                               # for tracker.run --video, off in submission / tracking-only mode
    min_cutoff: float = 1.0                    # One-Euro cutoff at rest, Hz
    beta: float = 0.05                         # One-Euro cutoff increase per pixel/s of joint speed
    d_cutoff: float = 1.0                      # One-Euro speed-estimate cutoff, Hz (Casiez et al. 2012 default)
    window: int = 9                            # offline Savitzky-Golay window in frames (tracker.overlay --smooth)
    order: int = 2                             # offline Savitzky-Golay polynomial order


@dataclass(frozen=True)
class TrackConfig:
    name: str = "default"
    device: str = "cpu"
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    pose: PoseConfig = field(default_factory=PoseConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    nms: NmsConfig = field(default_factory=NmsConfig)
    association: AssociationConfig = field(default_factory=AssociationConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> "TrackConfig":
        return dataclasses.replace(self, **changes)


SECTIONS = {
    "detector": DetectorConfig, "pose": PoseConfig, "inference": InferenceConfig, "flow": FlowConfig, "nms": NmsConfig,
    "association": AssociationConfig, "output": OutputConfig, "smoothing": SmoothingConfig,
}
TOP_LEVEL = ("name", "device")


def _validate(config: TrackConfig) -> TrackConfig:
    fractions = {"detector.score_threshold": config.detector.score_threshold,
                 "detector.nms_threshold": config.detector.nms_threshold,
                 "nms.iou_threshold": config.nms.iou_threshold, "nms.pose_oks_threshold": config.nms.pose_oks_threshold,
                 "association.match_threshold": config.association.match_threshold,
                 "association.joint_threshold": config.association.joint_threshold,
                 "association.reentry_max_cost": config.association.reentry_max_cost,
                 "output.joint_score_threshold": config.output.joint_score_threshold,
                 "flow.box_joint_threshold": config.flow.box_joint_threshold,
                 "flow.propagated_box_score": config.flow.propagated_box_score}
    for key, value in fractions.items():
        if not 0.0 <= value <= 1.0:
            raise TrackConfigError(f"{key} is a score or overlap between 0 and 1, got {value}")
    if config.flow.box_extend < 0 or config.association.area_scale <= 0:
        raise TrackConfigError("flow.box_extend must be >= 0 and association.area_scale > 0")
    if config.pose.batch_size < 0 or config.flow.min_box_joints < 0:
        raise TrackConfigError("pose.batch_size and flow.min_box_joints must be >= 0")
    for key, allowed in (("precision", PRECISIONS), ("runtime", RUNTIMES)):
        if getattr(config.inference, key) not in ("auto",) + allowed:
            raise TrackConfigError(f"inference.{key} {getattr(config.inference, key)!r} is not one of "
                                   f"{', '.join(('auto',) + allowed)}")
    if config.inference.threads < 0:
        raise TrackConfigError(f"inference.threads must be >= 0, got {config.inference.threads}")
    if config.flow.preset and (config.flow.name.strip().lower() != "dis" or config.flow.preset not in DIS_PRESETS):
        raise TrackConfigError(f"flow.preset {config.flow.preset!r} needs flow.name dis and one of "
                               f"{', '.join(DIS_PRESETS)}; the other flow backends take no preset (set it to \"\")")
    if config.association.similarity not in SIMILARITIES:
        raise TrackConfigError(f"association.similarity {config.association.similarity!r} is not one of "
                               f"{', '.join(SIMILARITIES)}")
    if config.detector.kind not in ("torchvision", "onnx", "file"):
        raise TrackConfigError(f"detector.kind {config.detector.kind!r} is not one of torchvision, onnx, file")
    if config.detector.every < 1:
        raise TrackConfigError(f"detector.every must be at least 1, got {config.detector.every}")
    smoothing = config.smoothing
    if smoothing.online not in ONLINE_MODES:
        raise TrackConfigError(f"smoothing.online must be auto, on or off, got {smoothing.online!r}")
    if smoothing.min_cutoff <= 0 or smoothing.d_cutoff <= 0 or smoothing.beta < 0:
        raise TrackConfigError("smoothing.min_cutoff and smoothing.d_cutoff must be > 0 and smoothing.beta >= 0")
    if smoothing.window < 3 or smoothing.window % 2 == 0 or not 0 <= smoothing.order < smoothing.window:
        raise TrackConfigError(f"smoothing.window must be odd and at least 3, and smoothing.order from 0 to "
                               f"window - 1; got window {smoothing.window}, order {smoothing.order}")
    if config.association.lost_seconds < 0:
        raise TrackConfigError(f"association.lost_seconds must be >= 0 (0 turns re-entry off), got "
                               f"{config.association.lost_seconds}")
    if config.association.memory < 1:
        raise TrackConfigError(f"association.memory must be at least 1, got {config.association.memory}")
    if config.detector.every > 1 and not config.flow.propagate:
        raise TrackConfigError("detector.every > 1 needs flow.propagate: true (frames without detection get "
                               "their boxes from flow)")
    return config


def config_from_dict(raw: dict, name: str = "") -> TrackConfig:
    if not isinstance(raw, dict):
        raise TrackConfigError(f"a track config must be a YAML mapping with sections {', '.join(SECTIONS)}")
    unknown = set(raw) - set(SECTIONS) - set(TOP_LEVEL)
    if unknown:
        raise TrackConfigError(f"unknown track config key(s) {sorted(unknown)}; known: "
                               f"{', '.join(TOP_LEVEL + tuple(SECTIONS))}")
    kwargs = {section: build_section(cls, raw.get(section), section, TrackConfigError)
              for section, cls in SECTIONS.items()}
    defaults = TrackConfig()
    for key in TOP_LEVEL:
        if key in raw:
            kwargs[key] = coerce_value(raw[key], getattr(defaults, key), key, TrackConfigError)
    kwargs.setdefault("name", name or defaults.name)
    return _validate(TrackConfig(**kwargs))


def apply_overrides(raw: dict, overrides: list[str] | dict | None) -> dict:
    """``section.key=value`` strings or a ``{"section.key": value}`` mapping applied to a raw track config mapping
    (``pose.config.apply_overrides``); ``device=cuda`` sets a top-level key."""
    return apply_config_overrides(raw, overrides, SECTIONS, TOP_LEVEL, TrackConfigError, "nms.iou_threshold=0.6")


def resolve_track_config(name_or_path: str | Path) -> Path:
    """An existing YAML path, or the name of a YAML in ``configs/track/`` (with or without ``.yaml``)."""
    return resolve_config_path(name_or_path, "track", TrackConfigError)


def load_track_config(name_or_path: str | Path | TrackConfig | None = None,
                      overrides: list[str] | dict | None = None) -> TrackConfig:
    """A ``TrackConfig`` from a path or name (default ``default``) with overrides applied."""
    if isinstance(name_or_path, TrackConfig):
        raw, name = name_or_path.to_dict(), name_or_path.name
    else:
        path = resolve_track_config(name_or_path or "default")
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise TrackConfigError(f"track config {path} is not valid YAML ({error}); fix the file") from None
        except OSError as error:
            raise TrackConfigError(f"cannot read track config {path} ({error.strerror})") from None
        name = path.stem
    if not isinstance(raw, dict):
        raise TrackConfigError(f"track config {name_or_path} must be a YAML mapping of sections")
    return config_from_dict(apply_overrides(raw, overrides), name=name)
