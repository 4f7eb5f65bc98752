"""Command line: track people in a video (or PoseTrack image sequences) and write PoseTrack 2018 predictions.

    python -m tracker.run --video clip.mp4 --out DIR                  # DIR/clip.json
    python -m tracker.run --video FRAMES_FOLDER --out DIR             # a folder of .jpg/.png frames
    python -m tracker.run --images ROOT --gt-dir GT --out DIR         # submission: one file per GT sequence
    python -m tracker.run --poses POSES.json [--video V | --images ROOT] --out DIR   # tracking only: ids assigned

Flags: ``--max-frames N``, ``--detector torchvision|onnx:PATH|file:PATH``, ``--pose-model NAME``,
``--pose-weights NAME_OR_PATH``, ``--flow NAME``, ``--device``, ``--config PATH_OR_NAME`` (``configs/track/``),
``--set section.key=value`` (repeatable), ``--overlay`` (``DIR/<stem>_overlay.mp4``), ``--debug-frames DIR``,
``--format auto|2017|2018|21`` (``auto``: the ground truth's format in submission mode, PoseTrack21 included).

Every frame of the input is written, with track ids and 17 per-joint scores; joints scoring below
``output.joint_score_threshold`` are written absent (0, 0, 0). Files are written atomically when the run ends; a
per-stage timing table goes to stderr. A user error prints ``error: <sentence>`` on stderr and exits with 2,
leaving no output file behind.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from flow.errors import FlowError
from pose.checkpoints import CheckpointError
from pose.config import ConfigError
from pose.data.posetrack import (
    PoseTrackFormatError,
    check_prediction_matches_gt,
    read_sequence,
    sequence_from_arrays,
    write_sequence,
)
from pose.keypoints import POSETRACK18
from tracker.config import TrackConfig, TrackConfigError, load_track_config
from tracker.detectors import DetectorError, DetectionFile, parse_detector_spec
from tracker.components import Components, PipelineError, build_components
from tracker.outputs import Item, table_sinks
from tracker.pipeline import track
from tracker.poses_input import PosesFileError, read_untracked_poses, to_poses
from tracker.viz.overlay import OverlayError
from tracker.timing import StageTimer
from tracker.types import TrackedFrame
from tracker.video import ImageFolderSource, LimitedSource, VideoError, open_source


class OutputError(ValueError):
    """The output folder cannot be written."""


USER_ERRORS = (VideoError, DetectorError, TrackConfigError, PipelineError, PosesFileError, FlowError,
               CheckpointError, ConfigError, PoseTrackFormatError, OutputError, OverlayError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tracker.run",
        description="Track multi-person poses in a video and write PoseTrack 2018 JSON (HRNet + FlowTrack).",
    )
    source = parser.add_argument_group("input (one of)")
    source.add_argument("--video", help="video file, or a folder of frames (.jpg/.png in name order)")
    source.add_argument("--images", help="with --gt-dir or --poses: the root that the file's image names are "
                                         "relative to; alone: a folder of frames, like --video")
    source.add_argument("--gt-dir", help="submission mode: one prediction per PoseTrack GT file in this folder")
    source.add_argument("--poses", help="tracking-only mode: PoseTrack 2018 poses without track ids")
    parser.add_argument("--out", required=True, help="output folder (created if needed)")
    parser.add_argument("--max-frames", type=int, help="stop after this many frames of each video")
    parser.add_argument("--detector", help="torchvision[:ARCH], onnx:PATH or file:PATH")
    parser.add_argument("--pose-model", help="pose config name in configs/pose/ or a YAML path")
    parser.add_argument("--pose-weights", help="pose checkpoint path or registry name ('random' for tests), or an "
                                               ".onnx pose model (with --pose-model, the config describing it)")
    parser.add_argument("--flow", help="flow backend: dis, farneback, tvl1, flownet2, flownets, ...")
    parser.add_argument("--device", help="cpu, cuda or cuda:N")
    parser.add_argument("--config", help="track config YAML or name in configs/track/ (default: default)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set association.memory=5 (repeatable)")
    parser.add_argument("--overlay", action="store_true", help="also write DIR/<stem>_overlay.mp4")
    parser.add_argument("--debug-frames", help="also write one overlay PNG per frame into this folder")
    parser.add_argument("--panels", default="", metavar="LIST",
                        help="overlay panels, comma-separated: flow (colour wheel), flow-magnitude, heatmap:ID "
                             "(the heatmaps of track ID)")
    parser.add_argument("--format", choices=("auto", "2017", "2018", "21"), default="auto",
                        help="PoseTrack output format; auto: the ground truth's in submission mode, else 2018")
    parser.add_argument("--csv", metavar="FILE", help="also write one CSV row per frame, track and joint (columns in "
                                                      "the README)")
    parser.add_argument("--per-track", metavar="DIR", help="also write one JSON per person: DIR/<video>/track_<id>.json")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--quiet", action="store_true", help="no timing table")
    return parser


def resolve_config(args) -> TrackConfig:
    """The track config with the CLI flags applied (flags override ``--set``, which overrides the YAML)."""
    overrides = list(args.set)
    flag_keys = {"pose_model": "pose.model", "pose_weights": "pose.weights", "flow": "flow.name", "device": "device"}
    for flag, key in flag_keys.items():
        value = getattr(args, flag)
        if value is not None:
            overrides.append(f"{key}={value}")
    config = load_track_config(args.config, overrides)
    if args.detector:
        config = config.replace(detector=parse_detector_spec(args.detector, config.detector))
    return config


def check_output_folder(out: Path) -> None:
    """Create ``out`` and make sure a file can be written there, before any work is done."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=".write-test.", dir=out)
        os.close(handle)
        os.unlink(name)
    except OSError as error:
        raise OutputError(f"cannot write into the output folder {out} ({error.strerror}); choose a writable "
                          f"--out folder") from None


class PredictionCollector:
    """Per-frame arrays of one sequence, turned into a PoseTrack 2018 file at the end."""

    def __init__(self):
        self.keypoints, self.scores, self.track_ids, self.boxes, self.box_scores = [], [], [], [], []

    def add(self, tracked: TrackedFrame) -> None:
        self.keypoints.append(tracked.poses.keypoints)
        self.scores.append(tracked.poses.scores)
        self.track_ids.append(tracked.track_ids)
        self.boxes.append(tracked.poses.boxes)
        self.box_scores.append(tracked.poses.box_scores)

    def __len__(self) -> int:
        return len(self.keypoints)

    def sequence(self, name: str, file_names: list[str], joint_threshold: float, image_ids=None, is_labeled=None):
        return sequence_from_arrays(name, file_names, self.keypoints, self.scores, self.track_ids, joint_threshold,
                                    self.boxes, self.box_scores, image_ids=image_ids, is_labeled=is_labeled)


def parse_panels(text: str) -> tuple[str, int]:
    """``--panels`` -> (flow panel: none | wheel | magnitude, track id whose heatmaps are shown or -1)."""
    flow_panel, heatmap_id = "none", -1
    for item in filter(None, (part.strip() for part in text.split(","))):
        if item == "flow":
            flow_panel = "wheel"
        elif item == "flow-magnitude":
            flow_panel = "magnitude"
        elif item.startswith("heatmap:") and item[len("heatmap:"):].isdigit():
            heatmap_id = int(item[len("heatmap:"):])
        else:
            raise OutputError(f"unknown overlay panel {item!r}; use flow, flow-magnitude or heatmap:ID (a track id)")
    return flow_panel, heatmap_id


def _overlay_writer(args, out: Path, stem: str, fps: float, config: TrackConfig):
    """The OverlayWriter for --overlay / --debug-frames, or None when neither is asked for."""
    if not args.overlay and not args.debug_frames:
        if args.panels:
            raise OutputError("--panels draws on the overlay; add --overlay or --debug-frames DIR")
        return None
    from tracker.viz.overlay import OverlayWriter
    from tracker.viz.render import RenderOptions

    flow_panel, heatmap_id = parse_panels(args.panels)
    options = RenderOptions(layout=POSETRACK18.name, joint_threshold=config.output.joint_score_threshold,
                            video_fps=fps, flow_panel=flow_panel, heatmap_track_id=heatmap_id)
    frames_dir = Path(args.debug_frames) / stem if args.debug_frames else None
    return OverlayWriter(options, video_path=out / f"{stem}_overlay.mp4" if args.overlay else None, fps=fps,
                         frames_dir=frames_dir)


def _video_file_names(stem: str, count: int) -> list[str]:
    """Image names for the frames of a video: ``images/<stem>/<index:06d>.jpg`` (PoseTrack's layout)."""
    return [f"images/{stem}/{i:06d}.jpg" for i in range(count)]


@dataclass
class Job:
    """One sequence to track and the prediction file it becomes (the lists may be longer than what is tracked)."""

    name: str
    target: Path
    frames: object | None                # a frame source; None in tracking-only mode without frames
    total: int | None                    # frames expected, for the progress bar
    file_names: list[str] | None = None  # the file's image names; None: images/<name>/<index:06d>.jpg
    image_ids: list | None = None
    is_labeled: list | None = None
    poses: list | None = None            # tracking-only mode: the given poses of every frame
    gt: object | None = None             # submission mode: the ground truth the prediction must match
    overlay: bool = False                # --overlay / --debug-frames apply to this sequence
    layout: str | None = None            # tracking-only mode: the given poses' keypoint layout


def plan_jobs(args, config: TrackConfig, out: Path) -> list[Job]:
    """The sequences the command line asks for, every input checked before any work is done."""
    if args.gt_dir:  # submission: one prediction per ground-truth sequence, same file names and image lists
        return _submission_jobs(args, out)
    untracked = given = source = None
    if args.video or (args.images and not args.poses):  # a video or a folder of frames (with --poses: its frames)
        source = open_source(Path(args.video or args.images), args.max_frames)
    if args.poses:  # COCO results are padded to the video's length
        untracked = read_untracked_poses(args.poses, None if source is None else source.info.num_frames)
        given = to_poses(untracked, config.flow.box_extend)
    if source is not None:
        info = source.info
        if untracked is not None:  # the poses file names the images
            return [Job(untracked.name, out / f"{untracked.name}.json", source, info.num_frames,
                        untracked.file_names, untracked.image_ids, untracked.is_labeled, given, overlay=True,
                        layout=untracked.layout)]
        folder = source.source if isinstance(source, LimitedSource) else source  # --max-frames wraps the source
        names = [f"images/{info.name}/{f.name}" for f in folder.files] if isinstance(folder, ImageFolderSource) \
            else None
        return [Job(info.name, out / f"{info.name}.json", source, info.num_frames, names, overlay=True)]
    frames = None  # --poses alone, or with --images ROOT holding the file's images
    if args.images:
        frames = ImageFolderSource(untracked.name, files=[Path(args.images) / f for f in untracked.file_names])
    limit = len(given) if args.max_frames is None else min(args.max_frames, len(given))
    return [Job(untracked.name, out / f"{untracked.name}.json", frames, limit, untracked.file_names,
                untracked.image_ids, untracked.is_labeled, given[:limit], layout=untracked.layout)]


def _submission_jobs(args, out: Path) -> list[Job]:
    gt_dir = Path(args.gt_dir)
    if not gt_dir.is_dir():
        raise PoseTrackFormatError(f"ground-truth folder {gt_dir} does not exist; give the folder of PoseTrack "
                                   f"annotation files with --gt-dir")
    gt_files = sorted(gt_dir.glob("*.json"))
    if not gt_files:
        raise PoseTrackFormatError(f"{gt_dir} holds no .json files; give the folder of PoseTrack annotation files")
    sequences = [(path, read_sequence(path, role="any")) for path in gt_files]  # all checked before any work
    root = Path(args.images)
    if not root.is_dir():
        raise VideoError(f"image root {root} does not exist; give the folder the GT file_names are relative to")
    jobs = []
    for path, gt in sequences:
        frames = gt.frames[:args.max_frames] if args.max_frames else gt.frames
        source = ImageFolderSource(gt.name, files=[root / f.file_name for f in frames])
        jobs.append(Job(gt.name, out / path.name, source, len(frames), [f.file_name for f in frames],
                        [f.image_id for f in frames], [f.is_labeled for f in frames], gt=gt))
    return jobs


def run(args, config: TrackConfig, out: Path) -> list[Path]:
    """Track every job of the command line with one set of components; the files are written at the end."""
    jobs = plan_jobs(args, config, out)
    tracking_only = jobs[0].poses is not None
    detector = None
    if args.gt_dir and config.detector.kind == "file":  # read once, looked up by each sequence's image ids
        detector = DetectionFile(config.detector.path, config.detector.score_threshold)
    config, parts = build_components(config, detector=detector, tracking_only=tracking_only,
                                     has_frames=jobs[0].frames is not None, layout=jobs[0].layout)
    timer = StageTimer()
    staged, tables = [], []
    for job in jobs:
        sinks = _start_sinks(args, config, job.name)
        staged.append((job.target, track_job(job, args, config, parts, timer, out, sinks)))
        tables += sinks
    for job, (target, sequence) in zip(jobs, staged):  # written only once every sequence has been tracked
        write_sequence(sequence, target, output_format(args, job.gt))
    written = [target for target, _ in staged] + [sink.finish() for sink in tables]
    _report(timer, written, args)
    return written


def _start_sinks(args, config: TrackConfig, name: str) -> list:
    """The --csv / --per-track sinks (``tracker.outputs``), started for the video ``name``."""
    sinks = table_sinks(args.csv, args.per_track, config.output.joint_score_threshold)
    try:
        for sink in sinks:
            sink.start(Item(name))
    except OSError as error:
        for sink in sinks:
            sink.abort()
        raise OutputError(f"cannot write the --csv / --per-track output ({error}); choose a writable path") from None
    return sinks


def track_job(job: Job, args, config: TrackConfig, parts: Components, timer: StageTimer, out: Path, sinks=()):
    """Track one sequence through ``tracker.track`` (with the overlay and the started ``tracker.outputs`` sinks,
    if asked) into a PoseTrack sequence. ``smoothing.online: auto`` smooths a video's outputs, not a submission's
    or given poses."""
    from dataclasses import replace

    from tqdm import tqdm

    if config.smoothing.online == "auto":
        smooth = job.poses is None and job.gt is None
        config = config.replace(smoothing=replace(config.smoothing, online="on" if smooth else "off"))

    fps = job.frames.info.fps if job.overlay else 0.0
    overlay = _overlay_writer(args, out, job.name, fps, config) if job.overlay else None
    panels = overlay.options if overlay is not None else None
    detector = parts.detector
    if job.gt is not None and isinstance(detector, DetectionFile):
        detector = detector.for_images(job.image_ids)
    stream = track(job.frames, config, detector=detector, pose_estimator=parts.pose_estimator,
                   flow_estimator=parts.flow_estimator, layout=parts.layout, poses=job.poses, timer=timer,
                   keep_flow=panels is not None and panels.flow_panel != "none",
                   keep_heatmaps=panels is not None and panels.heatmap_track_id >= 0, with_frames=True)
    collector = PredictionCollector()
    progress = tqdm(total=job.total, desc=job.name, unit="frame", disable=args.no_progress, dynamic_ncols=True,
                    leave=False)
    try:
        with progress:
            for frame, tracked in stream:
                collector.add(tracked)
                for sink in sinks:
                    sink.add(tracked, frame)
                if overlay is not None:
                    with timer("overlay"):
                        overlay.write(frame.image, tracked, run_fps=timer.frames / max(timer.wall, 1e-9))
                progress.update(1)
        if overlay is not None:
            overlay.close()
    except BaseException:
        if overlay is not None:
            overlay.abort()
        for sink in sinks:
            sink.abort()
        raise
    n = len(collector)
    names = job.file_names[:n] if job.file_names is not None else _video_file_names(job.name, n)
    sequence = collector.sequence(job.name, names, config.output.joint_score_threshold,
                                  None if job.image_ids is None else job.image_ids[:n],
                                  None if job.is_labeled is None else job.is_labeled[:n])
    if job.gt is not None and not args.max_frames:
        check_prediction_matches_gt(sequence, job.gt)
    return sequence


def output_format(args, gt=None) -> str:
    """``--format``: "2017", "2018" or "21"; ``auto`` is the ground truth's format in submission mode, else 2018."""
    if args.format != "auto":
        return args.format
    return gt.source_format if gt is not None else "2018"


def _report(timer: StageTimer, files: list[Path], args) -> None:
    for path in files:
        print(f"wrote {path}")
    if not args.quiet:
        print(timer.summary(), file=sys.stderr)


def _check_modes(args, parser: argparse.ArgumentParser) -> None:
    if args.gt_dir and not args.images:
        parser.error("--gt-dir needs --images ROOT (the folder its file_names are relative to)")
    if args.gt_dir and (args.video or args.poses):
        parser.error("--gt-dir (submission mode) takes --images only, not --video or --poses")
    if args.gt_dir and (args.csv or args.per_track):
        parser.error("--csv and --per-track go with --video, --images FOLDER or --poses, not submission mode")
    if args.video and args.images:
        parser.error("give --video or --images, not both")
    if not (args.video or args.images or args.poses):
        parser.error("give an input: --video PATH, --images ROOT --gt-dir DIR, or --poses FILE")
    if args.max_frames is not None and args.max_frames < 1:
        parser.error(f"--max-frames must be at least 1, got {args.max_frames}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_modes(args, parser)
    try:
        config = resolve_config(args)
        out = Path(args.out)
        check_output_folder(out)
        run(args, config, out)
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; no output was written", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
