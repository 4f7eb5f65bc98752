"""Draw what the tracker did in one frame: skeletons by track id, boxes by provenance, matches, panels, GT.

Everything is drawn with OpenCV primitives on an RGB copy of the frame (LINE_8, no anti-aliasing, so a joint's
centre pixel is exactly its track's colour). ``render_frame`` is the one entry point; ``GroundTruthFrame`` and
``IdSwitchMonitor`` add the ground-truth comparison.
"""
from __future__ import annotations

import colorsys
from dataclasses import dataclass, replace

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from pose.keypoints import KeypointLayout, get_layout
from tracker.types import TrackedFrame

# PCKh: a joint is correct within 0.5 x head size, head size = 0.6 x head-box diagonal (poseval's definition).
PCKH_THRESHOLD = 0.5
HEAD_SIZE_FACTOR = 0.6

GT_COLOR = (255, 255, 255)
WRONG_JOINT_COLOR = (255, 0, 0)
SWITCH_COLOR = (255, 0, 255)
SUPPRESSED_COLOR = (150, 150, 150)


@dataclass
class RenderOptions:
    """What to draw. Colours are RGB."""

    layout: str = "posetrack18"          # keypoint layout of the poses (skeleton and joint names)
    joint_threshold: float = 0.0         # joints whose score is below this are not drawn
    joint_radius: int = 4                # radius of a joint with score 1; scales with the score
    line_width: int = 2
    draw_boxes: bool = True
    draw_suppressed: bool = False        # boxes removed by NMS, drawn faint
    draw_ids: bool = True
    draw_header: bool = True
    draw_matches: bool = True            # propagated pose -> matched pose lines
    flow_panel: str = "none"             # none | wheel | magnitude
    heatmap_track_id: int = -1           # track id whose heatmaps get a panel (when the frame carries heatmaps)
    gt_mode: str = "overlay"             # overlay | side  (how ground truth is shown, when given)
    video_fps: float = 0.0               # for the time in the header
    dash_length: int = 8
    gap_length: int = 6


@dataclass(frozen=True)
class GroundTruthFrame:
    """Ground truth of one frame: keypoints (M, K, 2), visible (M, K) bool, track_ids (M,), head_boxes (M, 4) xyxy."""

    keypoints: np.ndarray
    visible: np.ndarray
    track_ids: np.ndarray
    head_boxes: np.ndarray | None = None


def track_color(track_id: int) -> tuple[int, int, int]:
    """A stable RGB colour per track id: hues stepped by the golden ratio, alternating saturation and value."""
    track_id = int(track_id)
    hue = (track_id * 0.618033988749895) % 1.0
    saturation = 0.95 if track_id % 2 == 0 else 0.7
    value = 1.0 if (track_id // 2) % 2 == 0 else 0.8
    r, g, b = colorsys.hsv_to_rgb(hue, saturation, value)
    return int(round(r * 255)), int(round(g * 255)), int(round(b * 255))


def _point(p) -> tuple[int, int]:
    return int(round(float(p[0]))), int(round(float(p[1])))


def draw_dashed_rectangle(image, xyxy, color, thickness: int, dash: int, gap: int) -> None:
    """A rectangle outline made of dashes of ``dash`` pixels separated by ``gap`` pixels."""
    x1, y1, x2, y2 = (int(round(v)) for v in xyxy)
    for (ax, ay), (bx, by) in (((x1, y1), (x2, y1)), ((x2, y1), (x2, y2)), ((x2, y2), (x1, y2)), ((x1, y2), (x1, y1))):
        length = max(abs(bx - ax), abs(by - ay))
        for start in range(0, length, dash + gap):
            end = min(start + dash, length)
            t0, t1 = start / max(length, 1), end / max(length, 1)
            p0 = (int(round(ax + (bx - ax) * t0)), int(round(ay + (by - ay) * t0)))
            p1 = (int(round(ax + (bx - ax) * t1)), int(round(ay + (by - ay) * t1)))
            cv2.line(image, p0, p1, color, thickness, cv2.LINE_8)


def draw_skeleton(image, keypoints, scores, layout: KeypointLayout, color, options: RenderOptions,
                  line_width: int | None = None, hollow: bool = False) -> None:
    """Limbs then joints of one person. keypoints (K, 2), scores (K,); joints below the threshold are skipped."""
    shown = scores >= options.joint_threshold
    shown &= np.isfinite(keypoints).all(axis=1)
    width = options.line_width if line_width is None else line_width
    for a, b in layout.skeleton:
        if shown[a] and shown[b]:
            cv2.line(image, _point(keypoints[a]), _point(keypoints[b]), color, width, cv2.LINE_8)
    for k in np.flatnonzero(shown):
        radius = max(1, int(round(options.joint_radius * float(np.clip(scores[k], 0.25, 1.0)))))
        center = _point(keypoints[k])
        if hollow:
            cv2.circle(image, center, radius, color, 1, cv2.LINE_8)
        else:
            if radius >= 3:
                cv2.circle(image, center, radius + 1, (0, 0, 0), -1, cv2.LINE_8)
            cv2.circle(image, center, radius, color, -1, cv2.LINE_8)


def draw_label(image, text: str, anchor: tuple[int, int], color) -> None:
    """Text on a filled box of ``color`` whose bottom-left corner is ``anchor``; black or white text by luminance."""
    font, scale, thickness = cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1
    (w, h), baseline = cv2.getTextSize(text, font, scale, thickness)
    x, y = anchor
    x = int(np.clip(x, 0, max(image.shape[1] - w - 2, 0)))
    y = int(np.clip(y, h + baseline + 2, image.shape[0]))
    cv2.rectangle(image, (x, y - h - baseline - 2), (x + w + 2, y), color, -1)
    luminance = 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2]
    text_color = (0, 0, 0) if luminance > 140 else (255, 255, 255)
    cv2.putText(image, text, (x + 1, y - baseline - 1), font, scale, text_color, thickness, cv2.LINE_AA)


def flow_to_rgb(flow: np.ndarray, mode: str = "wheel", max_magnitude: float | None = None) -> np.ndarray:
    """(H, W, 2) flow -> (H, W, 3) uint8 RGB: colour wheel (hue = direction, value = speed) or magnitude map."""
    magnitude = np.linalg.norm(flow, axis=2)
    top = float(max_magnitude) if max_magnitude else float(np.percentile(magnitude, 99) or 1.0)
    top = max(top, 1e-6)
    if mode == "magnitude":
        scaled = np.clip(magnitude / top * 255, 0, 255).astype(np.uint8)
        return cv2.cvtColor(cv2.applyColorMap(scaled, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)
    angle = (np.degrees(np.arctan2(flow[..., 1], flow[..., 0])) % 360) / 2  # OpenCV hue is 0..179
    hsv = np.empty((*flow.shape[:2], 3), np.uint8)
    hsv[..., 0] = angle.astype(np.uint8)
    hsv[..., 1] = 255
    hsv[..., 2] = np.clip(magnitude / top * 255, 0, 255).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def heatmap_to_rgb(heatmaps: np.ndarray) -> np.ndarray:
    """(K, h, w) heatmaps of one person -> (h, w, 3) uint8 RGB of their per-pixel maximum."""
    peak = np.clip(heatmaps.max(axis=0), 0.0, 1.0)
    return cv2.cvtColor(cv2.applyColorMap((peak * 255).astype(np.uint8), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)


def _paste_panel(image, panel, corner: str, title: str) -> None:
    """Paste ``panel`` scaled to a quarter of the frame height in a corner, with a title."""
    h = max(image.shape[0] // 4, 16)
    w = max(int(round(panel.shape[1] * h / panel.shape[0])), 1)
    w = min(w, image.shape[1] // 2)
    small = cv2.resize(panel, (w, h), interpolation=cv2.INTER_NEAREST)
    y0 = image.shape[0] - h
    x0 = image.shape[1] - w if corner == "right" else 0
    image[y0:, x0:x0 + w] = small
    cv2.rectangle(image, (x0, y0), (x0 + w - 1, image.shape[0] - 1), (255, 255, 255), 1)
    draw_label(image, title, (x0, y0), (40, 40, 40))


def _centroid(keypoints, scores, threshold) -> tuple[int, int] | None:
    good = (scores >= threshold) & np.isfinite(keypoints).all(axis=1)
    return _point(keypoints[good].mean(axis=0)) if good.any() else None


def match_to_ground_truth(pred_keypoints, pred_scores, gt: GroundTruthFrame, joint_threshold: float):
    """Pair predictions with GT people by PCKh (Hungarian on 1 - fraction of correct joints).

    Returns (pairs: list of (pred index, gt index)), normalised distances (P, M, K) with inf where a joint is
    missing, and head sizes (M,).
    """
    num_pred, num_gt = len(pred_keypoints), len(gt.keypoints)
    if num_pred == 0 or num_gt == 0:
        return [], np.full((num_pred, num_gt, pred_keypoints.shape[1] if num_pred else 0), np.inf), np.zeros(num_gt)
    if gt.head_boxes is not None:
        diag = np.linalg.norm(gt.head_boxes[:, 2:] - gt.head_boxes[:, :2], axis=1)
        head_size = HEAD_SIZE_FACTOR * diag
    else:  # no head boxes: a sixth of each GT person's box diagonal stands in for the head size
        extent = np.array([np.ptp(k[v], axis=0) if v.any() else np.zeros(2) for k, v in zip(gt.keypoints, gt.visible)])
        head_size = np.linalg.norm(extent, axis=1) / 6.0
    head_size = np.maximum(head_size, 1e-6)
    dist = np.linalg.norm(pred_keypoints[:, None] - gt.keypoints[None], axis=3) / head_size[None, :, None]
    valid = (pred_scores[:, None, :] >= joint_threshold) & gt.visible[None]
    dist = np.where(valid, dist, np.inf)
    correct = (dist <= PCKH_THRESHOLD).sum(axis=2) / np.maximum(gt.visible.sum(axis=1), 1)[None]
    rows, cols = linear_sum_assignment(-correct)
    pairs = [(int(r), int(c)) for r, c in zip(rows, cols) if correct[r, c] > 0]
    return pairs, dist, head_size


class IdSwitchMonitor:
    """Remembers which predicted id each GT track was last matched to, to mark id switches where they happen."""

    def __init__(self):
        self._last_pred_id: dict[int, int] = {}

    def update(self, pairs, pred_ids, gt_ids) -> list[tuple[int, int, int]]:
        """Returns (pred index, previous pred id, new pred id) for each GT track whose matched id changed."""
        switches = []
        for p, g in pairs:
            gt_id, pred_id = int(gt_ids[g]), int(pred_ids[p])
            previous = self._last_pred_id.get(gt_id)
            if previous is not None and previous != pred_id:
                switches.append((p, previous, pred_id))
            self._last_pred_id[gt_id] = pred_id
        return switches


def _draw_ground_truth_people(canvas, gt: GroundTruthFrame, layout, options) -> None:
    """GT skeletons in white with hollow joints (drawn under the predictions, so agreement hides them)."""
    gt_options = replace(options, joint_threshold=0.5)
    for keypoints, visible in zip(gt.keypoints, gt.visible):
        draw_skeleton(canvas, keypoints, visible.astype(np.float32), layout, GT_COLOR, gt_options, line_width=1,
                      hollow=True)


def _mark_errors(canvas, tracked: TrackedFrame, gt: GroundTruthFrame, options, switches_monitor) -> None:
    """A red cross on every predicted joint beyond the PCKh threshold, a magenta ring on every id switch."""
    poses = tracked.poses
    pairs, dist, _ = match_to_ground_truth(poses.keypoints, poses.scores, gt, options.joint_threshold)
    for p, g in pairs:
        wrong = np.isfinite(dist[p, g]) & (dist[p, g] > PCKH_THRESHOLD)
        for k in np.flatnonzero(wrong):
            x, y = _point(poses.keypoints[p, k])
            cv2.line(canvas, (x - 5, y - 5), (x + 5, y + 5), WRONG_JOINT_COLOR, 2, cv2.LINE_8)
            cv2.line(canvas, (x - 5, y + 5), (x + 5, y - 5), WRONG_JOINT_COLOR, 2, cv2.LINE_8)
    if switches_monitor is not None:
        for p, before, after in switches_monitor.update(pairs, tracked.track_ids, gt.track_ids):
            center = _centroid(poses.keypoints[p], poses.scores[p], options.joint_threshold)
            if center is not None:
                cv2.circle(canvas, center, 18, SWITCH_COLOR, 3, cv2.LINE_8)
                draw_label(canvas, f"ID SWITCH {before}->{after}", (center[0] - 40, center[1] - 22), SWITCH_COLOR)


def render_frame(image: np.ndarray, tracked: TrackedFrame, options: RenderOptions | None = None,
                 run_fps: float | None = None, gt: GroundTruthFrame | None = None,
                 switches: IdSwitchMonitor | None = None) -> np.ndarray:
    """Draw one tracked frame on a copy of ``image`` (H, W, 3) uint8 RGB and return it.

    With ``gt`` the ground truth is superimposed (``options.gt_mode == "overlay"``) or drawn on a second copy
    placed to the right (``"side"``: the result is (H, 2W, 3)). Pass the same ``IdSwitchMonitor`` for every frame
    of a video to mark id switches on the frame where they happen.
    """
    options = options or RenderOptions()
    layout = get_layout(options.layout)
    canvas = np.ascontiguousarray(image.copy())
    poses = tracked.poses

    if options.draw_boxes:
        if options.draw_suppressed and len(tracked.suppressed_boxes):
            faint = canvas.copy()
            for box in tracked.suppressed_boxes.xyxy:
                cv2.rectangle(faint, _point(box[:2]), _point(box[2:]), SUPPRESSED_COLOR, 1, cv2.LINE_8)
            cv2.addWeighted(faint, 0.5, canvas, 0.5, 0, dst=canvas)
        for box in tracked.detected_boxes.xyxy:
            cv2.rectangle(canvas, _point(box[:2]), _point(box[2:]), (0, 255, 0), 1, cv2.LINE_8)
        for box in tracked.propagated_boxes.xyxy:
            draw_dashed_rectangle(canvas, box, (255, 255, 0), 1, options.dash_length, options.gap_length)

    if options.draw_matches and tracked.propagated_poses is not None and tracked.matched_from is not None:
        prop = tracked.propagated_poses
        for i, j in enumerate(tracked.matched_from):
            if j < 0:
                continue
            color = tuple(int(c * 0.6) for c in track_color(tracked.track_ids[i]))
            draw_skeleton(canvas, prop.keypoints[j], prop.scores[j], layout, color, options, line_width=1,
                          hollow=True)
            start = _centroid(prop.keypoints[j], prop.scores[j], options.joint_threshold)
            end = _centroid(poses.keypoints[i], poses.scores[i], options.joint_threshold)
            if start is not None and end is not None:
                cv2.line(canvas, start, end, color, 1, cv2.LINE_8)

    gt_canvas = None
    if gt is not None:
        if options.gt_mode == "side":
            gt_canvas = canvas.copy()
            _draw_ground_truth_people(gt_canvas, gt, layout, options)
        else:
            _draw_ground_truth_people(canvas, gt, layout, options)

    for i in range(len(poses)):
        color = track_color(tracked.track_ids[i])
        draw_skeleton(canvas, poses.keypoints[i], poses.scores[i], layout, color, options)
        if options.draw_ids:
            top = _centroid(poses.keypoints[i], poses.scores[i], options.joint_threshold)
            if top is not None:
                shown = poses.scores[i] >= options.joint_threshold
                y_min = int(poses.keypoints[i][shown, 1].min())
                draw_label(canvas, str(int(tracked.track_ids[i])), (top[0] - 8, y_min - 6), color)

    if gt is not None:
        _mark_errors(gt_canvas if gt_canvas is not None else canvas, tracked, gt, options, switches)

    if options.flow_panel != "none" and tracked.flow is not None:
        _paste_panel(canvas, flow_to_rgb(tracked.flow, options.flow_panel), "right", f"flow ({options.flow_panel})")
    elif options.flow_panel == "magnitude" and tracked.flow_magnitude is not None:
        magnitude = np.stack([tracked.flow_magnitude, np.zeros_like(tracked.flow_magnitude)], axis=2)
        _paste_panel(canvas, flow_to_rgb(magnitude, "magnitude"), "right", "flow (magnitude)")
    if tracked.heatmaps is not None and options.heatmap_track_id in tracked.track_ids:
        person = int(np.flatnonzero(tracked.track_ids == options.heatmap_track_id)[0])
        _paste_panel(canvas, heatmap_to_rgb(tracked.heatmaps[person]), "left",
                     f"heatmaps id {options.heatmap_track_id}")

    if options.draw_header:
        parts = [f"frame {tracked.index}"]
        if options.video_fps > 0:
            parts.append(f"t={tracked.index / options.video_fps:.2f}s")
        if run_fps is not None:
            parts.append(f"run {run_fps:.1f} fps")
        parts.append(f"{len(poses)} people")
        band = min(22, canvas.shape[0])
        canvas[:band] = (canvas[:band] * 0.35).astype(np.uint8)
        cv2.putText(canvas, "  ".join(parts), (6, band - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                    cv2.LINE_AA)

    if gt_canvas is not None:
        cv2.putText(gt_canvas, "ground truth", (6, min(40, gt_canvas.shape[0] - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    GT_COLOR, 1, cv2.LINE_AA)
        return np.concatenate([canvas, gt_canvas], axis=1)
    return canvas
