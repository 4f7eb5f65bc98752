"""The whole tracker on real footage with real models: YOLOX-nano + MoveNet Thunder (ONNX Runtime) + DIS flow.

Runs what ``python -m tracker.run --video V --detector onnx:yolox_nano.onnx --pose-model movenet_thunder
--pose-weights movenet_thunder.onnx --overlay`` runs (the default track config otherwise) on the videos of
``../shared/data/videos/`` (vtest.avi: its first 300 frames; the two mmaction2 clips whole), writes for each
``OUT/<stem>.json`` (PoseTrack 2018), ``OUT/<stem>_overlay.mp4`` and ``OUT/<stem>_sheet.png`` (a contact sheet of 12
frames spread over the clip), and prints:

- the pose model alone: MoveNet's OKS against the COCO ground truth of ``../shared/data/coco`` from the ground-truth
  boxes, through the pipeline's own crops (``pose.gt_box_oks``);
- per video: milliseconds per frame of every pipeline stage and frames/s end to end (with and without drawing the
  overlay), people per frame, track ids, mean track length, single-frame tracks, and tracks lost and re-found:

  Each track figure is given for all people the tracker writes and, after the slash, for the posed ones only
  (at least one joint above ``output.joint_score_threshold``, the people the overlay draws a skeleton for): a
  detection the pose model finds no joint in (a sign post, a person seen from behind in the dark) can never be
  matched by OKS, so it gets a new id in every frame.

  **re-found** = a track id whose first box overlaps (IoU > ``--refound-iou``, default 0.5) the last box of another
  id that was last seen at most ``--refound-gap`` frames (default 10) earlier: the same person, most likely, lost
  and given a new id. Each ended track is re-found at most once (the closest in time, then the largest IoU).

Usage: ``python benchmarks/real_footage.py [--out out/real_footage] [--max-frames N] [--videos NAME[:FRAMES],...]
[--set section.key=value ...]``. On a shared 2-core machine the full run takes about 10 minutes.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pose.keypoints import POSETRACK18  # noqa: E402
from pose.precision import cpu_summary  # noqa: E402
from tracker.boxes import box_iou_matrix  # noqa: E402
from tracker.components import build_components  # noqa: E402
from tracker.config import load_track_config  # noqa: E402
from tracker.pipeline import track  # noqa: E402
from tracker.sinks import write_tracked  # noqa: E402
from tracker.timing import StageTimer  # noqa: E402
from tracker.video import open_source  # noqa: E402
from tracker.viz.overlay import OverlayWriter, sheet_indices  # noqa: E402
from tracker.viz.render import RenderOptions  # noqa: E402

SHARED = Path(os.environ.get("POSETRACK_SHARED", REPO.parent / "shared"))
DEFAULT_VIDEOS = "vtest.avi:300,mmaction2_demo_skeleton.mp4,mmaction2_test_video_structuralize.mp4"
STAGES = ("decode", "detect", "flow", "propagate", "nms", "pose", "associate", "overlay")
SHEET_FRAMES = 12


@dataclass(frozen=True)
class TrackStats:
    """What the track ids of a run say: ``ids`` distinct, ``mean_length`` frames per id, ``single_frame`` ids seen
    in one frame only, ``refound`` ids that continue an ended track (see the module docstring)."""

    ids: int
    mean_length: float
    single_frame: int
    refound: int


def track_stats(track_ids: list[np.ndarray], boxes: list[np.ndarray], gap: int, iou: float) -> TrackStats:
    """Statistics of per-frame track ids ``(N_t,)`` and their boxes ``(N_t, 4)`` xyxy."""
    first: dict[int, tuple[int, np.ndarray]] = {}
    last: dict[int, tuple[int, np.ndarray]] = {}
    length: dict[int, int] = {}
    for t, (ids, frame_boxes) in enumerate(zip(track_ids, boxes)):
        for track, box in zip(ids.tolist(), frame_boxes):
            first.setdefault(track, (t, box))
            last[track] = (t, box)
            length[track] = length.get(track, 0) + 1
    refound, used = 0, set()
    for track, (start, box) in sorted(first.items(), key=lambda item: item[1][0]):
        candidates = []
        for other, (end, other_box) in last.items():
            if other == track or other in used or not (start - gap <= end < start):
                continue
            overlap = float(box_iou_matrix(box[None], other_box[None])[0, 0])
            if overlap > iou:
                candidates.append((start - end, -overlap, other))
        if candidates:
            used.add(min(candidates)[2])
            refound += 1
    lengths = list(length.values())
    return TrackStats(len(lengths), float(np.mean(lengths)) if lengths else 0.0, sum(n == 1 for n in lengths), refound)


def movenet_coco_oks(weights: Path, flip: bool) -> list[float]:
    from pose.gt_box_oks import ground_truth_box_oks
    from pose.inference import TopDownPoseEstimator

    estimator = TopDownPoseEstimator.from_config("movenet_thunder", weights, flip_test=flip)
    coco = SHARED / "data" / "coco"
    return [p.oks for p in ground_truth_box_oks(estimator, coco / "test_coco.json", coco)]


@dataclass
class Recorded:
    """Per-frame track ids, boxes and joint scores of a run, for the track statistics."""

    track_ids: list
    boxes: list
    scores: list


def run_video(path: Path, max_frames: int | None, config, parts, out: Path) -> tuple[StageTimer, Recorded]:
    """tracker.run's loop (``tracker.track`` + the overlay writer) on one video, with the overlay video and a
    contact sheet; writes the PoseTrack JSON."""
    source = open_source(path, max_frames)
    info = source.info
    total = min(info.num_frames, max_frames) if max_frames else info.num_frames
    options = RenderOptions(layout=POSETRACK18.name, joint_threshold=config.output.joint_score_threshold,
                            video_fps=info.fps)
    overlay = OverlayWriter(options, video_path=out / f"{info.name}_overlay.mp4", fps=info.fps,
                            sheet_path=out / f"{info.name}_sheet.png",
                            sheet_frames=sheet_indices(0, total, SHEET_FRAMES))
    timer = StageTimer()
    stream = track(source, config, detector=parts.detector, pose_estimator=parts.pose_estimator,
                   flow_estimator=parts.flow_estimator, layout=parts.layout, timer=timer, with_frames=True)
    collector = Recorded([], [], [])
    frames = []
    try:
        for frame, tracked in stream:
            frames.append(tracked)
            collector.track_ids.append(tracked.track_ids)
            collector.boxes.append(tracked.poses.boxes)
            collector.scores.append(tracked.poses.scores)
            with timer("overlay"):
                overlay.write(frame.image, tracked, run_fps=timer.frames / max(timer.wall, 1e-9))
        overlay.close()
    except BaseException:
        overlay.abort()
        raise
    write_tracked(frames, out / f"{info.name}.json", joint_threshold=config.output.joint_score_threshold)
    return timer, collector


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="out/real_footage", help="folder for JSON, overlay videos, contact sheets")
    parser.add_argument("--videos", default=DEFAULT_VIDEOS,
                        help=f"comma-separated NAME[:FRAMES] in ../shared/data/videos (default {DEFAULT_VIDEOS})")
    parser.add_argument("--max-frames", type=int, help="cap every video at this many frames (quick runs)")
    parser.add_argument("--refound-gap", type=int, default=10, help="frames an ended track may be re-found after")
    parser.add_argument("--refound-iou", type=float, default=0.5, help="box IoU that makes a new id a re-found track")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="track config override")
    args = parser.parse_args(argv)

    data = SHARED / "data"
    movenet, yolox = data / "models" / "movenet_thunder.onnx", data / "models" / "yolox_nano.onnx"
    missing = [p for p in (movenet, yolox, data / "videos") if not p.exists()]
    if missing:
        print(f"error: {missing[0]} is missing; this benchmark needs the shared data folder beside the checkout "
              f"(or POSETRACK_SHARED)", file=sys.stderr)
        return 2
    print(f"machine: {cpu_summary()}")

    for flip in (False, True):
        oks = movenet_coco_oks(movenet, flip)
        print(f"MoveNet Thunder on {len(oks)} COCO people from their ground-truth boxes (pipeline crops, flip "
              f"{'on' if flip else 'off'}): mean OKS {np.mean(oks):.3f}, above 0.9: {sum(o > 0.9 for o in oks)}, "
              f"per person {' '.join(f'{o:.2f}' for o in oks)}")

    overrides = [f"pose.model=movenet_thunder", f"pose.weights={movenet}", *args.set]
    config = load_track_config(None, overrides)
    config, parts = build_components(config, detector=f"onnx:{yolox}")
    print(f"pipeline: detector YOLOX-nano (onnx), pose {parts.pose_estimator.runner.name} MoveNet Thunder "
          f"(flip test {'on' if config.pose.flip_test else 'off'}), flow {config.flow.name}, association "
          f"{config.association.similarity}, detector every {config.detector.every} frame(s)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    rows = []
    for item in args.videos.split(","):
        name, _, frames = item.partition(":")
        limit = int(frames) if frames else None
        if args.max_frames:
            limit = min(limit or args.max_frames, args.max_frames)
        start, cpu_start = time.perf_counter(), time.process_time()
        timer, collector = run_video(data / "videos" / name, limit, config, parts, out)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        people = [len(ids) for ids in collector.track_ids]
        posed = [(scores >= config.output.joint_score_threshold).any(axis=1) for scores in collector.scores]
        stats = (track_stats(collector.track_ids, collector.boxes, args.refound_gap, args.refound_iou),
                 track_stats([i[k] for i, k in zip(collector.track_ids, posed)],
                             [b[k] for b, k in zip(collector.boxes, posed)], args.refound_gap, args.refound_iou))
        people = (people, [int(k.sum()) for k in posed])
        rows.append((Path(name).stem, timer, wall, cpu, people, stats))
        print(f"  {name}: {timer.frames} frames in {wall:.1f} s", file=sys.stderr, flush=True)

    print()
    print(f"{'':<22}" + "".join(f"{stem[:22]:>24}" for stem, *_ in rows))
    print(f"{'frames':<22}" + "".join(f"{timer.frames:>24}" for _, timer, *_ in rows))
    for stage in STAGES:
        cells = []
        for _, timer, *_ in rows:
            ms = 1000 * timer.seconds.get(stage, 0.0) / max(timer.frames, 1)
            cells.append(f"{ms:9.1f} ms {1000 / ms if ms > 0 else float('inf'):7.1f}/s" if ms > 0 else f"{'-':>24}")
        print(f"{stage:<22}" + "".join(f"{c:>24}" for c in cells))
    print(f"{'frames/s end to end':<22}" + "".join(f"{t.frames / w:>24.2f}" for _, t, w, *_ in rows))
    print(f"{'frames/s w/o overlay':<22}" + "".join(
        f"{t.frames / (w - t.seconds.get('overlay', 0.0)):>24.2f}" for _, t, w, *_ in rows))
    # on a shared machine the wall clock includes waiting for a core; the process's CPU time does not
    print(f"{'CPU s/frame (process)':<22}" + "".join(f"{c / t.frames:>24.3f}" for _, t, _, c, *_ in rows))
    def both(label: str, value) -> None:      # all people / posed people
        print(f"{label:<22}" + "".join(f"{value(p[0], s[0]) + ' / ' + value(p[1], s[1]):>24}" for *_, p, s in rows))

    both("people/frame mean", lambda p, s: f"{np.mean(p):.2f}")
    both("people/frame max", lambda p, s: f"{max(p)}")
    both("track ids", lambda p, s: f"{s.ids}")
    both("mean track length", lambda p, s: f"{s.mean_length:.1f}")
    both("single-frame tracks", lambda p, s: f"{s.single_frame}")
    both("re-found under new id", lambda p, s: f"{s.refound}")
    print(f"(stage cells: ms per frame, and the frames/s that stage alone would allow; people and tracks: all / posed "
          f"(>= 1 joint above {config.output.joint_score_threshold}); re-found: new id whose first box has IoU > "
          f"{args.refound_iou} with a track that ended <= {args.refound_gap} frames before)")
    print(f"outputs in {out}: <video>.json, <video>_overlay.mp4, <video>_sheet.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
