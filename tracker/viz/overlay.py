"""Debugging overlays: an mp4, PNG frames and a contact sheet, during a run or afterwards from files.

During a run, ``tracker.run --overlay`` / ``--debug-frames DIR`` feed an ``OverlayWriter`` frame by frame. After a
run, ``python -m tracker.overlay --video PATH --pred JSON --out DIR [--gt JSON] [--frames A:B]`` re-reads the video
and the PoseTrack2018 prediction (and ground-truth) files and renders the same pictures:

    DIR/<stem>_overlay.mp4      every frame of the range
    DIR/<stem>_sheet.png        a grid of up to --sheet frames spread over the range
    DIR/<stem>_frames/NNNNNN.png  one PNG per frame of the range (with --png)
"""
from __future__ import annotations

import argparse
import math
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from pose.fileio import atomic_path, publish, temporary_path
from tracker.viz.render import (
    GroundTruthFrame,
    IdSwitchMonitor,
    RenderOptions,
    render_frame,
)
from tracker.types import Poses, TrackedFrame


class OverlayError(ValueError):
    """An overlay that cannot be written or a bad overlay request; the message says what to fix."""


class VideoWriter:
    """An mp4 (MPEG-4 part 2) written to a temporary file and moved into place by ``close``; ``abort`` deletes it."""

    def __init__(self, path: str | Path, fps: float):
        self.path = Path(path)
        self.fps = fps if fps and fps > 0 else 10.0
        self._temporary = temporary_path(self.path, suffix=self.path.suffix)  # OpenCV picks the container by suffix
        self._writer = None
        self.frames = 0

    def write(self, image_rgb: np.ndarray) -> None:
        if self._writer is not None and image_rgb.shape[:2] != self._size:
            raise OverlayError(f"frame of size {image_rgb.shape[1]}x{image_rgb.shape[0]} after frames of "
                               f"{self._size[1]}x{self._size[0]}: an overlay video needs one frame size")
        if self._writer is None:
            self._size = image_rgb.shape[:2]
            height, width = image_rgb.shape[:2]
            self._writer = cv2.VideoWriter(str(self._temporary), cv2.VideoWriter_fourcc(*"mp4v"), self.fps,
                                           (width, height))
            if not self._writer.isOpened():
                self.abort()
                raise OverlayError(f"OpenCV cannot write an mp4 at {self.path}; check the folder is writable")
        self._writer.write(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
        if self.frames == 0:
            self.abort()
            raise OverlayError(f"no frames were rendered, so {self.path} was not written")
        publish(self._temporary, self.path)

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        self._temporary.unlink(missing_ok=True)


def write_png(path: str | Path, image_rgb: np.ndarray) -> None:
    """Write an RGB image as PNG atomically."""
    with atomic_path(path, suffix=".png") as temporary:  # OpenCV picks the format by suffix
        if not cv2.imwrite(str(temporary), cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)):
            raise OverlayError(f"OpenCV could not write {path}; check the folder is writable")


def contact_sheet(images: list[np.ndarray], columns: int | None = None, tile_width: int = 320) -> np.ndarray:
    """A grid of frames (RGB), each scaled to ``tile_width``; (rows * tile_h, columns * tile_width, 3) uint8."""
    if not images:
        raise OverlayError("a contact sheet needs at least one frame")
    columns = columns or math.ceil(math.sqrt(len(images)))
    height, width = images[0].shape[:2]
    tile_height = max(int(round(height * tile_width / width)), 1)
    rows = math.ceil(len(images) / columns)
    sheet = np.zeros((rows * tile_height, columns * tile_width, 3), np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        tile = cv2.resize(image, (tile_width, tile_height), interpolation=cv2.INTER_AREA)
        sheet[r * tile_height:(r + 1) * tile_height, c * tile_width:(c + 1) * tile_width] = tile
    return sheet


def sheet_indices(first: int, stop: int, count: int) -> set[int]:
    """Up to ``count`` frame indices spread evenly over [first, stop)."""
    total = stop - first
    if total <= count:
        return set(range(first, stop))
    return {first + int(round(i * (total - 1) / (count - 1))) for i in range(count)} if count > 1 else {first}


class OverlayWriter:
    """Renders every tracked frame and sends it to the outputs asked for.

    video_path: the overlay mp4 (or None); frames_dir: a folder for one PNG per frame (or None); sheet_path: a
    contact sheet of the frames whose index is in ``sheet_frames``. ``close`` finishes the files; ``abort`` removes
    what was started, so a failed run leaves nothing that looks complete.
    """

    def __init__(self, options: RenderOptions, video_path=None, fps: float = 0.0, frames_dir=None, sheet_path=None,
                 sheet_frames: set[int] | None = None):
        self.options = options
        self.video = VideoWriter(video_path, fps) if video_path else None
        self.frames_dir = Path(frames_dir) if frames_dir else None
        if self.frames_dir is not None:
            try:
                self.frames_dir.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise OverlayError(f"cannot create the debug-frame folder {self.frames_dir}: {error.strerror}") from None
        self.sheet_path = Path(sheet_path) if sheet_path else None
        self.sheet_frames = sheet_frames or set()
        self._sheet_images: list[np.ndarray] = []
        self._switches = IdSwitchMonitor()
        self._pngs: list[Path] = []

    def write(self, image_rgb: np.ndarray, tracked: TrackedFrame, run_fps: float | None = None,
              gt: GroundTruthFrame | None = None) -> np.ndarray:
        canvas = render_frame(image_rgb, tracked, self.options, run_fps=run_fps, gt=gt, switches=self._switches)
        if self.video is not None:
            self.video.write(canvas)
        if self.frames_dir is not None:
            path = self.frames_dir / f"{tracked.index:06d}.png"
            write_png(path, canvas)
            self._pngs.append(path)
        if self.sheet_path is not None and tracked.index in self.sheet_frames:
            self._sheet_images.append(canvas)
        return canvas

    def close(self) -> None:
        if self.video is not None:
            self.video.close()
        if self.sheet_path is not None and self._sheet_images:
            write_png(self.sheet_path, contact_sheet(self._sheet_images))

    def abort(self) -> None:
        """Remove what this writer started: the partial mp4 and the PNGs written so far."""
        if self.video is not None:
            self.video.abort()
        for path in self._pngs:
            path.unlink(missing_ok=True)


# ----------------------------------------------------------------------------------------------------------------
# Re-rendering a finished run from files.


def _frame_arrays(frame, joint_threshold: float = 0.0):
    """PoseTrack people of one frame -> keypoints (N, 17, 2), scores (N, 17), track ids (N,), annotated (N, 17)."""
    people = frame.people
    if not people:
        return np.zeros((0, 17, 2), np.float32), np.zeros((0, 17), np.float32), np.zeros(0, np.int64), \
            np.zeros((0, 17), bool)
    keypoints = np.stack([p.keypoints for p in people]).astype(np.float32)  # (N, 17, 3)
    annotated = np.stack([p.present for p in people])
    # Ground truth has no scores: its visibility flag stands in.
    scores = np.stack([p.scores if p.scores is not None and len(p.scores) == 17 else p.keypoints[:, 2]
                       for p in people]).astype(np.float32)
    scores = np.where(annotated, scores, 0.0)
    ids = np.array([p.track_id for p in people], np.int64)
    return keypoints[..., :2], scores, ids, annotated


def tracked_frames_from_file(sequence) -> list[TrackedFrame]:
    """A PoseTrackSequence of predictions as TrackedFrames (poses and ids only), in file order."""
    frames = []
    for index, frame in enumerate(sequence.frames):
        keypoints, scores, ids, _ = _frame_arrays(frame)
        boxes = np.array([[*k[s > 0].min(0), *k[s > 0].max(0)] if (s > 0).any() else [0, 0, 0, 0]
                          for k, s in zip(keypoints, scores)], np.float32).reshape(-1, 4)
        frames.append(TrackedFrame(index, Poses(keypoints, scores, boxes, np.ones(len(ids))), ids))
    return frames


def ground_truth_frames_from_file(sequence) -> list[GroundTruthFrame]:
    frames = []
    for frame in sequence.frames:
        keypoints, _, ids, annotated = _frame_arrays(frame)
        heads = [p.head_box for p in frame.people]
        head_boxes = np.array(heads, np.float32).reshape(-1, 4) if heads and all(h is not None for h in heads) else None
        frames.append(GroundTruthFrame(keypoints, annotated, ids, head_boxes))
    return frames


def parse_frame_range(text: str | None, num_frames: int) -> tuple[int, int]:
    """'A:B' (B exclusive, either side may be empty) -> (first, stop) clipped to the video."""
    if not text:
        return 0, num_frames
    try:
        first_text, stop_text = text.split(":")
        first = int(first_text) if first_text else 0
        stop = int(stop_text) if stop_text else num_frames
    except ValueError:
        raise OverlayError(f"--frames {text!r} must look like A:B, e.g. 0:50") from None
    if first < 0 or stop <= first:
        raise OverlayError(f"--frames {text!r} is empty; give A:B with 0 <= A < B")
    return first, min(stop, num_frames)


def render_files(video: str | Path, pred: str | Path, out_dir: str | Path, gt: str | Path | None = None,
                 frames: str | None = None, png: bool = False, sheet: int = 50, write_video: bool = True,
                 options: RenderOptions | None = None, smooth_window: int = 0) -> dict[str, Path]:
    """Render the overlays of a finished run; returns the paths written by kind (video, sheet, frames).
    ``smooth_window`` > 0: Savitzky-Golay (order 2) over each finished track first (``tracker.smoothing``)."""
    from pose.data.posetrack import read_sequence
    from tracker.video import open_source

    source = open_source(video)
    # Videos that are not PoseTrack sequences have free-form names (images/<stem>/<index>.jpg): no name check.
    prediction = read_sequence(pred, role="pred", check_file_names=False)
    predicted = tracked_frames_from_file(prediction)
    if smooth_window:
        from tracker.smoothing import savgol_tracks

        try:
            predicted = savgol_tracks(predicted, smooth_window, order=2)
        except ValueError as error:
            raise OverlayError(f"--smooth {smooth_window}: {error}") from None
    truth = ground_truth_frames_from_file(read_sequence(gt, role="gt", check_file_names=False)) if gt else None
    num_frames = source.info.num_frames or len(predicted)
    first, stop = parse_frame_range(frames, min(num_frames, len(predicted)))
    if first >= len(predicted):
        raise OverlayError(f"{pred} has {len(predicted)} frames, so --frames {frames} selects none")

    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OverlayError(f"cannot create the output folder {out_dir}: {error.strerror}") from None
    stem = source.info.name
    options = replace(options or RenderOptions(joint_threshold=0.05), video_fps=source.info.fps)
    written = {}
    if write_video:
        written["video"] = out_dir / f"{stem}_overlay.mp4"
    if sheet > 0:
        written["sheet"] = out_dir / f"{stem}_sheet.png"
    if png:
        written["frames"] = out_dir / f"{stem}_frames"
    writer = OverlayWriter(options, written.get("video"), source.info.fps, written.get("frames"),
                           written.get("sheet"), sheet_indices(first, stop, sheet))
    try:
        for frame in source:
            if frame.index >= stop:
                break
            if frame.index < first:
                continue
            gt_frame = truth[frame.index] if truth is not None and frame.index < len(truth) else None
            writer.write(frame.image, predicted[frame.index], gt=gt_frame)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tracker.overlay", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", required=True, help="the video (or image folder) the predictions were made on")
    parser.add_argument("--pred", required=True, help="PoseTrack2018 prediction JSON written by tracker.run")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--gt", help="PoseTrack2018/2017 ground-truth JSON of the same video")
    parser.add_argument("--frames", help="frame range A:B (B exclusive), default all")
    parser.add_argument("--png", action="store_true", help="also write one PNG per frame")
    parser.add_argument("--sheet", type=int, default=50, help="frames in the contact sheet (0: none)")
    parser.add_argument("--no-video", action="store_true", help="skip the overlay mp4")
    parser.add_argument("--gt-mode", choices=("overlay", "side"), default="overlay")
    parser.add_argument("--flow-panel", choices=("none", "wheel", "magnitude"), default="none")
    parser.add_argument("--show-suppressed", action="store_true")
    parser.add_argument("--smooth", type=int, default=0, metavar="WINDOW",
                        help="Savitzky-Golay over each finished track, WINDOW frames (odd, e.g. 9), order 2")
    args = parser.parse_args(argv)

    from pose.data.posetrack import PoseTrackFormatError
    from tracker.video import VideoError

    try:
        options = RenderOptions(gt_mode=args.gt_mode, flow_panel=args.flow_panel,
                                draw_suppressed=args.show_suppressed, joint_threshold=0.05)
        written = render_files(args.video, args.pred, args.out, gt=args.gt, frames=args.frames, png=args.png,
                               sheet=args.sheet, write_video=not args.no_video, options=options,
                               smooth_window=args.smooth)
    except (OverlayError, PoseTrackFormatError, VideoError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for kind, path in written.items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
