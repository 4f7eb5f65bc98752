"""Tracking speed and memory on a real video: frames/s, per-stage times, network vs everything else, peak RSS.

    python benchmarks/track_speed.py                       # vtest.avi, CPU profile (YOLOX-nano, DIS, W32 flip)
    python benchmarks/track_speed.py --frames 120 --rss-at 20,120
    python benchmarks/track_speed.py --pose-weights PATH   # trained weights (default: random, same cost)
    python benchmarks/track_speed.py --precision fp32,auto --frames 150   # one run per precision, then the ratio
    python benchmarks/track_speed.py --tracking-only 10 --frames 20000 --rss-at 1000,20000   # memory over length
    bash benchmarks/gpu_pipeline.sh                        # the paper's pipeline on a GPU, fp32 vs fp16

Network time is measured inside the network calls themselves: the pose network runner (crops in, heatmaps out,
whatever runtime runs it, with a CUDA synchronise on GPU), the YOLOX ``InferenceSession.run``, the whole detector
call with ``--boxes-from`` and the whole flow call of a learned flow; "outside the networks" is the wall time minus
those, i.e. decoding, letterboxing, crops, heatmap decoding, classical optical flow, propagation, NMS, association
and the loop.
Random pose weights give joint scores unlike a trained model's, so the number of flow-propagated boxes (and so of
crops) differs: the crops per frame are printed to normalise by. Peak RSS (``ru_maxrss``) is read at the frames
given by ``--rss-at``; the target is a flat line (frame 700 within 50 MB of frame 100).

``--tracking-only N``: the memory of a long run without networks: N people walking through generated frames of
poses (tracking-only mode, OKS association), every frame streamed into a PoseTrack file as ``tracker.run`` writes
it; the target is frame 20,000 within 50 MB of frame 1,000.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from flow.estimators import OPENCV_BACKENDS  # noqa: E402
from tracker.config import load_track_config  # noqa: E402
from pose.precision import cpu_abilities  # noqa: E402
from tracker.components import build_components, describe_precision  # noqa: E402
from tracker.pipeline import Tracker, run_frames  # noqa: E402
from tracker.run import USER_ERRORS  # noqa: E402
from tracker.timing import StageTimer  # noqa: E402
from tracker.video import open_source  # noqa: E402

SHARED = Path(os.environ.get("POSETRACK_SHARED", REPO.parent / "shared")) / "data"  # as the tests


class RunnerClock:
    """Wraps a pose estimator's network runner (any runtime); counts seconds, calls and crops in the network."""

    def __init__(self, estimator, device: str):
        self.runner = estimator.runner
        self.seconds = 0.0
        self.calls = 0
        self.items = 0
        self._sync = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)
        estimator.runner = self

    def __call__(self, crops):
        start = time.perf_counter()
        try:
            return self.runner(crops)
        finally:
            self._sync()
            self.seconds += time.perf_counter() - start
            self.calls += 1
            self.items += len(crops)

    def __getattr__(self, name):
        return getattr(self.runner, name)


class SessionClock:
    """Wraps an onnxruntime session; counts the seconds spent in ``run``."""

    def __init__(self, session):
        self.session = session
        self.seconds = 0.0

    def run(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.session.run(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start

    def __getattr__(self, name):
        return getattr(self.session, name)


class CallClock:
    """Wraps a callable stage (a detector, a learned flow network); counts the seconds spent in its calls."""

    def __init__(self, stage, device: str):
        self.stage = stage
        self.seconds = 0.0
        self._sync = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)

    def __call__(self, *args):
        start = time.perf_counter()
        try:
            return self.stage(*args)
        finally:
            self._sync()
            self.seconds += time.perf_counter() - start

    def __getattr__(self, name):
        return getattr(self.stage, name)


class BoxesFrom:
    """Runs the real detector on every frame (its cost) but hands on the boxes of a detection file: for a detector
    with random weights, which finds nobody (``--boxes-from``)."""

    def __init__(self, detector, boxes):
        self.detector, self.boxes = detector, boxes

    def __call__(self, frame):
        self.detector(frame)
        return self.boxes(frame)

    def __getattr__(self, name):
        return getattr(self.detector, name)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


class WalkingPoses:
    """Poses of ``people`` walkers in frame t, made on demand (nothing is stored per frame)."""

    def __init__(self, people: int, frames: int):
        from tracker.pipeline import poses_with_boxes

        self.people, self.frames, self._with_boxes = people, frames, poses_with_boxes
        rng = np.random.default_rng(0)
        self.start = rng.uniform(50, 1000, (people, 2))
        self.velocity = rng.uniform(-2, 2, (people, 2))
        self.shape = rng.uniform(-40, 40, (people, 17, 2))

    def __len__(self) -> int:
        return self.frames

    def __getitem__(self, t: int):
        centers = (self.start + self.velocity * (t % 500))[:, None]
        keypoints = (centers + self.shape).astype(np.float32)
        scores = np.full((self.people, 17), 0.9, np.float32)
        return self._with_boxes(keypoints, scores)


def tracking_only_memory(args) -> int:
    """--tracking-only: peak RSS along a long tracking-only run streamed into a PoseTrack file."""
    import tempfile

    from tracker.sinks import PoseTrackSink
    from tracker.types import Frame
    from tracker.worklist import WorkItem

    config = load_track_config("default", ["association.similarity=oks", *args.set])
    config, parts = build_components(config, tracking_only=True, has_frames=False)
    frames = args.frames or 20000
    poses = WalkingPoses(args.tracking_only, frames)
    blank = np.zeros((1, 1, 3), np.uint8)
    rss_at = {int(v) for v in args.rss_at.split(",") if v}
    timer = StageTimer()
    tracker = Tracker.from_components(config, parts, timer)
    rows = []
    with tempfile.TemporaryDirectory() as out:
        sink = PoseTrackSink(out, "2018", config.output.joint_score_threshold)
        sink.start(WorkItem("000001_mpii_test", "000001_mpii_test.json", frames, None))
        start = time.perf_counter()
        for _, tracked in run_frames(tracker, (Frame(i, blank) for i in range(frames)), poses):
            sink.add(tracked)
            if timer.frames in rss_at:
                rows.append((timer.frames, peak_rss_mb(), current_rss_mb()))
                print(f"  frame {timer.frames}: peak RSS {rows[-1][1]:.1f} MB", file=sys.stderr, flush=True)
        path = sink.finish()
        wall = time.perf_counter() - start
        rows.append(("file", peak_rss_mb(), current_rss_mb()))  # after the file was assembled and published
        size = path.stat().st_size / 2**20
    print(f"tracking-only: {frames} frames x {args.tracking_only} people, streamed to a {size:.1f} MB PoseTrack "
          f"file in {wall:.1f} s ({frames / wall:.0f} frames/s)")
    print(f"{'frame':>6} {'peak RSS MB':>12} {'RSS MB':>9}")
    for n, peak, now in rows:
        print(f"{n:>6} {peak:12.1f} {now:9.1f}")
    if len(rows) >= 2:
        print(f"peak RSS growth from frame {rows[0][0]} to the written file: {rows[-1][1] - rows[0][1]:.1f} MB "
              f"(target: within 50 MB)")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", default=str(SHARED / "videos" / "vtest.avi"))
    parser.add_argument("--config", default="cpu", help="track config (default: the CPU profile)")
    parser.add_argument("--detector", default=f"onnx:{SHARED / 'models' / 'yolox_nano.onnx'}")
    parser.add_argument("--pose-model", default="coco_w32_256x192")
    parser.add_argument("--pose-weights", default="random")
    parser.add_argument("--flow", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--frames", type=int, default=0, help="frames to run (0 = the whole video)")
    parser.add_argument("--rss-at", default="100,700", help="frame numbers (1-based counts) to read RSS at")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--precision", default="", help="comma-separated inference.precision values, one run each "
                                                        "(e.g. fp32,auto); default: the config's")
    parser.add_argument("--boxes-from", default="", metavar="FILE",
                        help="run the detector on every frame (timed) but use the person boxes of this detection "
                             "file (COCO results or PoseTrack): for detectors with random weights")
    parser.add_argument("--tracking-only", type=int, default=0, metavar="PEOPLE",
                        help="memory over length without networks: PEOPLE generated walkers, streamed output")
    args = parser.parse_args(argv)
    if args.tracking_only:
        return tracking_only_memory(args)

    print(cpu_abilities().description)
    rates = {}
    for precision in [p.strip() for p in args.precision.split(",") if p.strip()] or [""]:
        try:
            rates[precision or "config"] = run_once(args, precision)
        except USER_ERRORS as error:  # a missing ../shared file, package or device: what tracker.run would say
            print(f"error: {error}", file=sys.stderr)
            return 2
    if len(rates) > 1:
        first, *others = rates
        print("\n" + "; ".join(f"{p}: {rates[p]:.3f} frames/s = {rates[p] / rates[first]:.2f}x {first}"
                                for p in others))
    return 0


def run_once(args, precision: str) -> float:
    """One tracking run at ``precision`` ("" = the config's); prints its tables and returns its frames/s."""
    overrides = [*args.set, f"pose.model={args.pose_model}", f"pose.weights={args.pose_weights}",
                 f"device={args.device}"] + ([f"flow.name={args.flow}"] if args.flow else [])
    overrides += [f"inference.precision={precision}"] if precision else []
    torch.manual_seed(0)   # the same random weights every run (and their cached export)
    config = load_track_config(args.config, overrides)
    config, parts = build_components(config, detector=args.detector)
    hrnet = RunnerClock(parts.pose_estimator, args.device)
    stand_in = learned_flow = None
    if args.boxes_from:
        from tracker.detectors import DetectionFile

        stand_in = CallClock(parts.detector, args.device)
        parts.detector = BoxesFrom(stand_in, DetectionFile(args.boxes_from, config.detector.score_threshold))
    if parts.flow_estimator is not None and config.flow.name not in OPENCV_BACKENDS:
        parts.flow_estimator = learned_flow = CallClock(parts.flow_estimator, args.device)
    yolox = None
    if hasattr(parts.detector, "session"):
        yolox = parts.detector.session = SessionClock(parts.detector.session)

    source = open_source(args.video, args.frames or None)
    rss_at = {int(v) for v in args.rss_at.split(",") if v}
    timer = StageTimer()
    tracker = Tracker.from_components(config, parts, timer)
    rss_rows, crops = [], []
    start = time.perf_counter()
    for _, tracked in run_frames(tracker, source):
        crops.append(len(tracked.poses))
        if timer.frames in rss_at:
            rss_rows.append((timer.frames, peak_rss_mb(), current_rss_mb()))
            print(f"  frame {timer.frames}: peak RSS {rss_rows[-1][1]:.1f} MB, RSS {rss_rows[-1][2]:.1f} MB",
                  file=sys.stderr, flush=True)
        if timer.frames % 25 == 0:
            print(f"  frame {timer.frames}: {timer.frames / (time.perf_counter() - start):.2f} frames/s",
                  file=sys.stderr, flush=True)
    wall = time.perf_counter() - start

    print(f"\n=== precision {precision or config.inference.precision}: " + "; ".join(describe_precision(parts)))
    print(f"video {args.video}: {timer.frames} frames, device {args.device}, config {config.name}, "
          f"pose {config.pose.model} (flip {config.pose.flip_test}), flow {config.flow.name}, "
          f"detector {config.detector.kind}")
    print(f"people per frame: mean {np.mean(crops):.2f}, max {max(crops)}; pose network calls {hrnet.calls}, "
          f"crops incl. flipped {hrnet.items}")
    print()
    print(timer.summary(wall))
    print()
    rows = [("pose network", hrnet.seconds)]
    if yolox is not None:
        rows.append(("YOLOX run", yolox.seconds))
    if stand_in is not None:
        rows.append(("detector network", stand_in.seconds))
    if learned_flow is not None:
        rows.append(("flow network", learned_flow.seconds))
    networks = sum(seconds for _, seconds in rows)
    rows.append(("outside networks", wall - networks))
    print(f"{'part':<18} {'total s':>9} {'ms/frame':>9} {'% wall':>7}")
    for name, seconds in rows:
        print(f"{name:<18} {seconds:9.2f} {1000 * seconds / max(timer.frames, 1):9.1f} {100 * seconds / wall:7.1f}")
    print(f"frames/s: {timer.frames / wall:.3f}")
    if rss_rows:
        print()
        print(f"{'frame':>6} {'peak RSS MB':>12} {'RSS MB':>9}")
        for n, peak, now in rss_rows:
            print(f"{n:>6} {peak:12.1f} {now:9.1f}")
    return timer.frames / wall


if __name__ == "__main__":
    sys.exit(main())
