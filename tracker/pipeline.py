"""The tracking pipeline: video in, tracked poses out, one frame at a time (HRNet sec. 4.3 after FlowTrack).

Per frame t (``Tracker.step``):

1. detect person boxes (every ``detector.every``-th frame);
2. optical flow from frame t-1 to t (when box propagation or a flow similarity needs it);
3. move the poses of frame t-1 by the flow and take a box around each (15 % longer), the "propagated" boxes;
4. box NMS over detected + propagated boxes;
5. top-down HRNet on the kept boxes (one batch per frame, flip test);
6. association: similarity to the recent tracks' (flow-moved) poses, greedy matching, new ids for the rest;
7. poses converted to the PoseTrack 2018 joint layout (``tracker.posetrack_joints``) for the outputs.

``track(source, config=None, **overrides)`` is the public generator. The state it keeps is the previous frame,
its poses and a few frames of track memory, so memory does not grow with the video. Tracking-only mode
(``poses=...``) skips steps 1, 3, 4 and 5: the given poses are associated (with flow when frames are given).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from flow.propagate import BOX_ENLARGE, boxes_from_keypoints, propagate_boxes
from pose.keypoints import POSETRACK18, get_layout
from pose.similarity import oks_nms
from tracker.associate import DEFAULT_FPS, FLOW_SIMILARITIES, Associator
from tracker.boxes import merge_boxes
from tracker.components import Components, PipelineError, build_components
from tracker.config import TrackConfig, load_track_config
from tracker.posetrack_joints import to_posetrack18
from tracker.smoothing import OneEuroSmoother, online_enabled
from tracker.timing import StageTimer
from tracker.types import (SOURCE_PROPAGATED, Boxes, Detector, FlowEstimator, Frame, PoseEstimator, Poses,
                           TrackedFrame)
from tracker.video import open_source


@dataclass(frozen=True)
class FrameEstimate:
    """Steps 1-5 of one frame: its poses and the boxes they came from (what the overlays draw)."""

    poses: Poses
    detected: Boxes = field(default_factory=Boxes.empty)
    propagated: Boxes = field(default_factory=Boxes.empty)
    suppressed: Boxes = field(default_factory=Boxes.empty)    # removed by box NMS or pose OKS-NMS
    heatmaps: np.ndarray | None = None                           # (N, K, h, w) when ``keep_heatmaps``
    box_sources: np.ndarray | None = None                        # (N,) SOURCE_* of each pose's box; None: given


@dataclass
class Tracker:
    """The per-frame tracking loop's state and components.

    detector: Frame -> Boxes (None in tracking-only mode); pose_estimator: (image (H, W, 3) RGB, boxes (N, 4) xyxy)
    -> keypoints (N, K, 2), scores (N, K) (None in tracking-only mode); flow_estimator: (prev_rgb, next_rgb) ->
    (H, W, 2), or None when neither propagation nor the similarity needs flow; layout: the pose model's keypoint
    layout name.
    """

    config: TrackConfig
    detector: Detector | None
    pose_estimator: PoseEstimator | None
    flow_estimator: FlowEstimator | None
    layout: str
    timer: StageTimer
    keep_flow: bool = False              # put the flow field and its magnitude into each TrackedFrame (overlays)
    keep_heatmaps: bool = False          # put each pose's heatmaps into the TrackedFrame (needs an estimator with
                                         # ``estimate(image, boxes) -> keypoints, scores, heatmaps``)
    fps: float = 0.0                     # the video's frame rate, for frame times (0: unknown, DEFAULT_FPS assumed)
    smooth: bool = False                 # One-Euro filter of the output joints (smoothing.online resolved)

    @classmethod
    def from_components(cls, config: TrackConfig, parts: Components, timer: StageTimer,
                        keep_flow: bool = False, keep_heatmaps: bool = False, fps: float = 0.0,
                        smooth_by_default: bool = False) -> "Tracker":
        smooth = online_enabled(config.smoothing.online, smooth_by_default)
        return cls(config, parts.detector, parts.pose_estimator, parts.flow_estimator, parts.layout, timer, keep_flow,
                   keep_heatmaps, fps, smooth)

    def __post_init__(self):
        layout = get_layout(self.layout)
        self.associator = Associator(self.config.association, layout.sigmas, layout.joints)
        cfg = self.config.smoothing
        self.smoother = OneEuroSmoother(cfg.min_cutoff, cfg.beta, cfg.d_cutoff,
                                        self.config.output.joint_score_threshold) if self.smooth else None
        self._previous_image: np.ndarray | None = None
        self._previous_poses: Poses | None = None

    @property
    def needs_flow(self) -> bool:
        propagate = self.config.flow.propagate and self.pose_estimator is not None
        return propagate or self.config.association.similarity in FLOW_SIMILARITIES

    def _flow(self, frame: Frame) -> np.ndarray | None:
        if self._previous_image is None or not self.needs_flow:
            return None
        if self.flow_estimator is None:
            raise PipelineError("this configuration needs optical flow but no flow estimator was given")
        if self._previous_image.shape != frame.image.shape:
            raise PipelineError(f"frame {frame.index} is {frame.image.shape[:2]} but the previous frame was "
                                f"{self._previous_image.shape[:2]}; every frame of a video must have one size")
        with self.timer("flow"):
            return np.asarray(self.flow_estimator(self._previous_image, frame.image), np.float32)

    def _is_detector_frame(self, frame: Frame) -> bool:
        return frame.index % self.config.detector.every == 0

    def _propagated_boxes(self, flow: np.ndarray | None, detector_frame: bool) -> Boxes:
        """Boxes around the previous frame's poses moved by the flow, enlarged by ``flow.box_extend`` (FlowTrack)."""
        previous = self._previous_poses
        if flow is None or previous is None or not len(previous) or not self.config.flow.propagate:
            return Boxes.empty()
        cfg = self.config.flow
        with self.timer("propagate"):
            moved = propagate_boxes(previous.keypoints, previous.scores, flow, cfg.box_joint_threshold, cfg.box_extend,
                                    cfg.min_box_joints)
            # A propagated box loses score once per detector frame that does not find the person again (its
            # detection would win the NMS), not once per frame: between detector frames (detector.every > 1) the
            # flow carries the person at its last score. Below the box threshold it is dropped, so a person the
            # detector keeps missing fades out after a few detector frames.
            decay = cfg.propagated_box_score if detector_frame else 1.0
            scores = previous.box_scores * decay
            valid = moved.valid & (scores >= self.config.detector.score_threshold)
            return Boxes(moved.boxes[valid], scores[valid], np.full(int(valid.sum()), SOURCE_PROPAGATED, np.int8))

    def _estimate(self, frame: Frame, flow: np.ndarray | None) -> FrameEstimate:
        """Steps 1-5: poses of this frame, with the detected, propagated and suppressed boxes."""
        detected = Boxes.empty()
        detector_frame = self._is_detector_frame(frame)
        if detector_frame:
            with self.timer("detect"):
                detected = self.detector(frame)
        propagated = self._propagated_boxes(flow, detector_frame)
        with self.timer("nms"):
            merged = merge_boxes(detected, propagated, self.config.nms.iou_threshold)
        kept, suppressed = merged.kept, merged.suppressed
        if not len(kept):
            return FrameEstimate(Poses.empty(get_layout(self.layout).num_joints), detected, propagated, suppressed,
                                 box_sources=np.zeros(0, np.int8))
        heatmaps = None
        with self.timer("pose"):
            if self.keep_heatmaps and hasattr(self.pose_estimator, "estimate"):
                keypoints, scores, heatmaps = self.pose_estimator.estimate(frame.image, kept.xyxy)
            else:
                keypoints, scores = self.pose_estimator(frame.image, kept.xyxy)
        poses, sources = Poses(keypoints, scores, kept.xyxy, kept.scores), kept.source
        if self.config.nms.pose_oks_threshold > 0 and len(poses) > 1:
            with self.timer("nms"):
                unique = self._unique_poses(poses)
            suppressed = Boxes.cat([suppressed, kept.select(np.setdiff1d(np.arange(len(poses)), unique))])
            poses, sources = poses.select(unique), sources[unique]
            heatmaps = None if heatmaps is None else heatmaps[unique]
        min_score = self.config.output.min_pose_score
        if min_score > 0:
            confident = _mean_kept_score(poses.scores, self.config.output.joint_score_threshold) >= min_score
            poses, sources = poses.select(confident), sources[confident]
            heatmaps = None if heatmaps is None else heatmaps[confident]
        return FrameEstimate(poses, detected, propagated, suppressed, heatmaps, sources)

    def _unique_poses(self, poses: Poses) -> np.ndarray:
        """Indices (sorted) of the poses OKS-NMS keeps: score = mean confident-joint score x box score, the
        official COCO rescoring; OKS over joints confident in both poses, object area = the pose box's area."""
        threshold = self.config.association.joint_threshold
        score = _mean_kept_score(poses.scores, threshold) * poses.box_scores
        areas = np.prod(poses.boxes[:, 2:] - poses.boxes[:, :2], axis=1)
        keypoints = np.concatenate([poses.keypoints, poses.scores[..., None]], axis=2)
        keep = oks_nms(keypoints, score, areas, self.config.nms.pose_oks_threshold, get_layout(self.layout).sigmas,
                       in_vis_thre=threshold, both_visible=True)
        return np.sort(keep)

    def step(self, frame: Frame, given_poses: Poses | None = None) -> TrackedFrame:
        """Track one frame; ``given_poses`` (tracking-only mode) replaces detection and pose estimation."""
        flow = self._flow(frame)
        estimate = self._estimate(frame, flow) if given_poses is None else FrameEstimate(given_poses)
        poses = estimate.poses
        time_s = frame.index / (self.fps if self.fps > 0 else DEFAULT_FPS)
        with self.timer("associate"):
            association = self.associator.step(frame.index, poses, flow, frame.image, time_s)
        self._previous_image = frame.image
        self._previous_poses = poses
        out = self.config.output
        candidates = association.candidates
        kp, sc = to_posetrack18(poses.keypoints, poses.scores, self.layout, out.head_lift, out.head_top_scale)
        cand_kp, cand_sc = to_posetrack18(candidates.keypoints, candidates.scores, self.layout, out.head_lift,
                                          out.head_top_scale)
        raw = None
        if self.smoother is not None:
            raw, kp = kp, self.smoother(time_s, association.track_ids, kp, sc)
        magnitude = None
        if self.keep_flow and flow is not None:
            magnitude = np.linalg.norm(flow, axis=2)
        return TrackedFrame(
            index=frame.index,
            poses=poses.with_keypoints(kp, sc),
            track_ids=association.track_ids,
            detected_boxes=estimate.detected,
            propagated_boxes=estimate.propagated,
            suppressed_boxes=estimate.suppressed,
            propagated_poses=candidates.with_keypoints(cand_kp, cand_sc),
            matched_from=association.matched_from,
            flow_magnitude=magnitude,
            flow=flow if self.keep_flow else None,
            heatmaps=estimate.heatmaps,
            video_id=frame.video_id,
            time_s=time_s,
            raw_keypoints=raw,
            box_sources=estimate.box_sources,
        )


def _mean_kept_score(scores: np.ndarray, threshold: float) -> np.ndarray:
    """(N,) mean score of the joints at or above ``threshold`` (0 for a person with none)."""
    kept = scores >= threshold
    return np.where(kept.any(axis=1), (scores * kept).sum(axis=1) / np.maximum(kept.sum(axis=1), 1), 0.0)


def _resolve(config, overrides: dict) -> TrackConfig:
    """The config with keyword overrides applied: ``section={key: value}``, ``section__key=value``, ``device``."""
    flat: dict = {}
    for key, value in overrides.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key.replace("__", ".")] = value
    return load_track_config(config, flat)


def track(source, config: str | TrackConfig | None = None, *, detector: Detector | str | None = None,
          pose_estimator: PoseEstimator | None = None, flow_estimator: FlowEstimator | None = None,
          layout: str | None = None, poses: Sequence[Poses] | None = None, max_frames: int | None = None,
          timer: StageTimer | None = None, keep_flow: bool = False, keep_heatmaps: bool = False,
          image_ids: list | None = None, with_frames: bool = False, precision: str | None = None,
          runtime: str | None = None, smooth_by_default: bool = False,
          **overrides) -> Iterator[TrackedFrame]:
    """Track people through ``source``; yields one ``TrackedFrame`` per frame, streaming.

    source: a video path, an image folder, an iterable of (H, W, 3) uint8 RGB arrays, or a ``tracker.video``
    source; None in tracking-only mode without frames (``poses`` given; only non-flow similarities then).
    config: a ``TrackConfig``, a YAML path or a name in ``configs/track/`` (default ``default``).
    overrides: config keys, as ``association={"memory": 5}``, ``association__memory=5`` or ``device="cuda"``.
    Keypoints are raw unless ``smoothing={"online": "on"}`` (One-Euro at the source's frame rate), or
    ``smoothing.online`` is ``auto`` and ``smooth_by_default`` is set (``tracker.run``: a video's output); re-entry
    of lost tracks follows ``association.lost_seconds``.
    detector: a callable Frame -> Boxes, a CLI-style spec ``torchvision`` / ``onnx:PATH`` / ``file:PATH``, or a
    dict of ``detector`` config keys;
    pose_estimator: (image, boxes (N, 4)) -> keypoints (N, K, 2), scores (N, K), with ``layout`` its keypoint
    layout; flow_estimator: (prev_rgb, next_rgb) -> (H, W, 2). Components not given are built from the config.
    poses: tracking-only mode, the poses of every frame (a sequence of ``Poses``, layout ``layout``, default
    posetrack18): no detection or pose estimation, only (flow) association.
    image_ids: a detection file's image ids in frame order (submission mode).
    precision / runtime: ``inference.precision`` (auto, fp32, bf16, fp16, int8) and ``inference.runtime`` of the
    pose network built from the config (``pose.precision``).
    timer: a ``StageTimer`` that receives the per-stage seconds.
    with_frames: yield (Frame, TrackedFrame) pairs (the decoded frame too, for overlays) instead of TrackedFrames.

    Components are built and the source opened when this is called, so configuration errors surface here;
    frames are decoded as the generator is consumed.
    """
    if isinstance(detector, dict):  # detector={...} is the config section, as the other sections
        overrides["detector"], detector = detector, None
    for key, value in (("precision", precision), ("runtime", runtime)):
        if value is not None:
            overrides[f"inference__{key}"] = value
    config = _resolve(config, overrides)
    frames = None if source is None else open_source(source, max_frames)
    config, parts = build_components(config, detector=detector, pose_estimator=pose_estimator,
                                     flow_estimator=flow_estimator, layout=layout, tracking_only=poses is not None,
                                     has_frames=source is not None, image_ids=image_ids)
    fps = frames.info.fps if frames is not None else 0.0
    tracker = Tracker.from_components(config, parts, timer or StageTimer(), keep_flow, keep_heatmaps, fps,
                                      smooth_by_default)
    return _run(tracker, frames, poses, with_frames)


def _run(tracker: Tracker, source, poses, with_frames: bool) -> Iterator:
    if source is None:  # tracking-only mode without frames: blank stand-ins carry the frame index
        source = [Frame(i, np.zeros((1, 1, 3), np.uint8)) for i in range(len(poses))]
    for frame, tracked in run_frames(tracker, source, poses):
        yield (frame, tracked) if with_frames else tracked


def run_frames(tracker: Tracker, frames: Iterable[Frame], poses: Sequence[Poses] | None = None
               ) -> Iterator[tuple[Frame, TrackedFrame]]:
    """The tracking loop: each frame (decoding timed as ``decode``) with its ``TrackedFrame``; with ``poses``
    (tracking-only mode) frame i takes ``poses[i]`` and the loop ends with them."""
    timer = tracker.timer
    iterator = iter(frames)
    while True:
        with timer("decode"):
            frame = next(iterator, None)
        if frame is None or (poses is not None and frame.index >= len(poses)):
            return
        tracked = tracker.step(frame, None if poses is None else poses[frame.index])
        timer.frames += 1
        yield frame, tracked


def poses_with_boxes(keypoints: np.ndarray, scores: np.ndarray, box_extend: float = BOX_ENLARGE,
                     joint_threshold: float = 0.0) -> Poses:
    """Poses (N, K, 2), (N, K) given without boxes, with boxes around their joints (grown by ``box_extend`` in
    width and height, as propagated boxes) and
    box scores = mean joint score (tracking-only mode)."""
    keypoints = np.asarray(keypoints, np.float32)
    scores = np.asarray(scores, np.float32)
    if not len(keypoints):
        return Poses.empty(keypoints.shape[1] if keypoints.ndim == 3 else POSETRACK18.num_joints)
    no_clipping = (np.inf, np.inf)
    boxes, _ = boxes_from_keypoints(keypoints, scores, no_clipping, joint_threshold, box_extend, min_joints=1)
    present = scores > 0
    box_scores = np.where(present.any(axis=1), (scores * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1), 0)
    return Poses(keypoints, scores, boxes, box_scores)
