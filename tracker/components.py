"""The parts a ``Tracker`` runs, built from a ``TrackConfig``: detector, pose estimator, optical flow.

``build_components`` builds the parts that are not given (each stage interface is in ``tracker.types``), so one
set of parts serves every sequence of a run.
"""
from __future__ import annotations

from dataclasses import dataclass

from pose.keypoints import POSETRACK18, get_layout
from tracker.associate import FLOW_SIMILARITIES
from tracker.config import TrackConfig
from tracker.stage_precision import follow_precision
from tracker.types import Detector, FlowEstimator, PoseEstimator


# The pose config used when neither --pose-model nor the weights' registry entry names one.
DEFAULT_POSE_MODEL = "coco_w32_256x192"


class PipelineError(ValueError):
    """The pipeline cannot run as configured (a missing component or an incompatible option)."""


def build_pose_estimator(config: TrackConfig, device: str) -> tuple[PoseEstimator, str]:
    """The top-down estimator of ``config.pose`` (HRNet, or an ``.onnx`` model), in the precision and runtime of
    ``config.inference`` (``pose.runtime_choice``; the choice is the estimator's ``choice``), and its keypoint
    layout name.

    The layout is the weights' own (``pose.weights_layout``: ``pose.layout``, else the registry entry of named
    weights, else the pose config) and sets both the estimator's flip pairs and the tracker's joints.
    """
    from pose.config import load_config
    from pose.inference import TopDownPoseEstimator
    from pose.runtime_choice import load_precision_runner
    from pose.weights_layout import config_for_weights

    cfg = config.pose
    if not cfg.weights:
        raise PipelineError("no pose weights given; pass --pose-weights PATH_OR_NAME (or set pose.weights; "
                            "'random' runs untrained weights, for testing only)")
    pose_config = load_config(cfg.model or _registry_field(cfg.weights, "config") or DEFAULT_POSE_MODEL)
    pose_config = config_for_weights(pose_config, cfg.weights, cfg.layout)
    weights = None if cfg.weights == "random" else cfg.weights
    inference = config.inference
    runner, choice = load_precision_runner(pose_config, weights, device, inference.precision, inference.runtime,
                                           threads=inference.threads)
    options = {"max_batch": cfg.batch_size} if cfg.batch_size > 0 else {}
    estimator = TopDownPoseEstimator(runner, pose_config, device, flip_test=cfg.flip_test, choice=choice, **options)
    return estimator, pose_config.model.keypoints


def _registry_field(weights: str, field: str) -> str:
    """A field (``config``, ``keypoints``) of the registry entry of named weights ("" when not a registry name)."""
    try:
        from pose.checkpoints import load_registry
        entry = load_registry().get(weights)
    except Exception:  # noqa: BLE001 - a registry problem is reported when the weights are resolved
        return ""
    return getattr(entry, field, "") or ""


def build_flow_estimator(config: TrackConfig, device: str) -> FlowEstimator:
    """The optical flow of ``config.flow`` (``flow.get_estimator`` checks the name and options); a learned backend
    with the weights of ``flow.checkpoint`` ("" = its trained weights)."""
    from flow import get_estimator

    # the OpenCV backends ignore ``device`` and refuse a checkpoint
    options = {"preset": config.flow.preset} if config.flow.preset else {}
    return get_estimator(config.flow.name, device=device, checkpoint=config.flow.checkpoint or None, **options)


@dataclass
class Components:
    """What a ``Tracker`` runs, built once and reused for every sequence of a run."""

    detector: Detector | None
    pose_estimator: PoseEstimator | None
    flow_estimator: FlowEstimator | None
    layout: str


def build_components(config: TrackConfig, *, detector: Detector | str | None = None,
                     pose_estimator: PoseEstimator | None = None, flow_estimator: FlowEstimator | None = None,
                     layout: str | None = None, tracking_only: bool = False, has_frames: bool = True,
                     image_ids: list | None = None) -> tuple[TrackConfig, Components]:
    """The components not given, built from ``config`` (see :func:`track` for the arguments).

    tracking_only: no detector or pose estimator (poses come with each frame); has_frames: whether real frames
    (hence optical flow) are available. Returns the config (with a ``detector`` spec applied) and the components.
    """
    from tracker.detectors import build_detector, parse_detector_spec

    if isinstance(detector, str):
        config = config.replace(detector=parse_detector_spec(detector, config.detector))
        detector = None
    flow_similarity = config.association.similarity in FLOW_SIMILARITIES
    needs_flow = flow_similarity or (config.flow.propagate and not tracking_only)
    if needs_flow and not has_frames:
        raise PipelineError(f"similarity {config.association.similarity} needs the video frames for optical "
                            f"flow; give the video, or set association.similarity to oks or box_iou")
    if flow_estimator is None and needs_flow:  # first: the quickest to build, so a bad name fails fast
        flow_estimator = build_flow_estimator(config, config.device)
    if not tracking_only and pose_estimator is None:  # a precision the device cannot run fails before any build
        from pose.precision import device_abilities, resolve_precision
        from pose.runtime import is_onnx_path

        resolve_precision(config.inference.precision, config.inference.runtime, device_abilities(config.device),
                          onnx_model=is_onnx_path(config.pose.weights))
    if not tracking_only:
        if detector is None:
            detector = build_detector(config.detector, config.device, image_ids)
        if pose_estimator is None:
            pose_estimator, layout = build_pose_estimator(config, config.device)
        elif layout is None:
            raise PipelineError("a custom pose_estimator needs layout= (its keypoint layout, e.g. coco17)")
    layout = get_layout(layout or POSETRACK18.name).name
    follow_precision(getattr(pose_estimator, "choice", None), config.device, detector, flow_estimator)
    return config, Components(detector, pose_estimator, flow_estimator, layout)


def describe_precision(parts: Components) -> list[str]:
    """One line per network stage: the precision and runtime it runs in and why (run header, timing table)."""
    lines = []
    choice = getattr(parts.pose_estimator, "choice", None)
    if choice is not None:
        name = getattr(getattr(parts.pose_estimator, "config", None), "name", "")
        lines.append(f"pose network {name}: {choice.describe()}")
    for stage, component in (("detector", parts.detector), ("flow", parts.flow_estimator)):
        note = getattr(component, "precision_note", "")
        if note:
            lines.append(f"{stage}: {note}")
    return lines
