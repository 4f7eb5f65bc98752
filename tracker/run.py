"""Command line: track people in videos (or PoseTrack image sequences) and write PoseTrack predictions.

    python -m tracker.run --video clip.mp4 --out DIR                  # DIR/clip.json
    python -m tracker.run --video a.mp4 b.mp4 | VIDEO_FOLDER | "*.mp4" | LIST.txt --out DIR   # a work list
    python -m tracker.run --video FRAMES_FOLDER --out DIR             # a folder of .jpg/.png frames
    python -m tracker.run --images ROOT --gt-dir GT --out DIR         # submission: one file per GT sequence
    python -m tracker.run --poses POSES.json... [--video V | --images ROOT] --out DIR   # tracking only: ids assigned
    torchrun --nproc_per_node N -m tracker.run ...                    # the work list sharded over N processes

Flags: ``--max-frames N``, ``--detector torchvision|onnx:PATH|file:PATH`` (``file:FOLDER``: ``FOLDER/<name>.json``
per video), ``--pose-model NAME``, ``--pose-weights NAME_OR_PATH``, ``--flow NAME``, ``--device``,
``--config PATH_OR_NAME`` (``configs/track/``), ``--set section.key=value`` (repeatable), ``--overlay``
(``DIR/<stem>_overlay.mp4``), ``--debug-frames DIR``, ``--format auto|2017|2018|21`` (``auto``: the ground truth's
format in submission mode, else 2018), ``--resume``, ``--precision auto|fp32|bf16|fp16|int8`` and
``--runtime auto|pytorch|onnxruntime|openvino`` (the pose network's number format and runtime, ``pose.precision``;
the run header and the timing table say what ran and why).

Every frame of the input is written, with track ids and 17 per-joint scores; joints scoring below
``output.joint_score_threshold`` are written absent (0, 0, 0). Each item's file is streamed to a hidden temporary
file and renamed into place when the item ends, so memory stays flat over any length and an interrupted run keeps
every finished item (``--resume`` skips them); ``DIR/run_summary.json`` lists them. Under ``torchrun`` or Slurm each
rank takes a frame-balanced share of the work list (``tracker.worklist``, ``tracker.ranks``) and rank 0 prints one
timing table for the run. A user error prints ``error: <sentence>`` on stderr and exits with 2, leaving no output
file behind.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from flow.errors import FlowError
from pose.checkpoints import CheckpointError
from pose.config import ConfigError
from pose.data.posetrack import PoseTrackFormatError, read_sequence
from pose.export import ExportError
from pose.keypoints import POSETRACK18
from pose.precision import PrecisionError
from pose.quantize import QuantizeError
from tracker.config import TrackConfig, TrackConfigError, load_track_config
from tracker.detectors import DetectorError, DetectionFile, parse_detector_spec
from tracker.components import Components, PipelineError, build_components, describe_precision
from tracker.pipeline import track
from tracker.poses_input import PosesFileError, read_untracked_poses, to_poses
from tracker.viz.overlay import OverlayError
from tracker.ranks import Collector, RankError, rank_device, rank_info, rank_threads
from tracker.run_summary import RunSummary, config_hash, timing_table, warn_if_config_changed
from tracker.runner import run_items
from tracker.outputs import OutputsError, table_sinks
from tracker.sinks import FORMATS, OverlaySink, PoseTrackSink
from tracker.timing import StageTimer
from tracker.video import VideoError
from tracker.worklist import (WorkItem, expand_inputs, expand_poses, poses_items, sequence_items, shard,
                              video_items)


class OutputError(ValueError):
    """The output folder cannot be written."""


USER_ERRORS = (VideoError, DetectorError, TrackConfigError, PipelineError, PosesFileError, FlowError,
               CheckpointError, ConfigError, PoseTrackFormatError, OutputError, OverlayError, RankError,
               PrecisionError, QuantizeError, ExportError, OutputsError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tracker.run",
        description="Track multi-person poses in videos and write PoseTrack JSON (HRNet + FlowTrack).",
    )
    source = parser.add_argument_group("input (one of)")
    source.add_argument("--video", nargs="+", metavar="PATH",
                        help="video files, folders of videos, quoted globs, text files with one path a line, or a "
                             "folder of frames (.jpg/.png in name order)")
    source.add_argument("--images", help="with --gt-dir or --poses: the root that the file's image names are "
                                         "relative to; alone: a folder of frames, like --video")
    source.add_argument("--gt-dir", help="submission mode: one prediction per PoseTrack GT file in this folder")
    source.add_argument("--poses", nargs="+", metavar="FILE",
                        help="tracking-only mode: PoseTrack 2018 poses without track ids (files, folders of them, "
                             "quoted globs or text lists)")
    parser.add_argument("--out", required=True, help="output folder (created if needed)")
    parser.add_argument("--format", choices=("auto", *FORMATS), default="auto",
                        help="PoseTrack format of the predictions: 2017, 2018 or 21 (PoseTrack21); auto: each "
                             "ground-truth file's in submission mode, else 2018")
    parser.add_argument("--resume", action="store_true",
                        help="skip the items whose prediction is already in --out and reads back valid")
    parser.add_argument("--max-frames", type=int, help="stop after this many frames of each video")
    parser.add_argument("--detector", help="torchvision[:ARCH], onnx:PATH or file:PATH (file:FOLDER: one "
                                           "<video name>.json per video)")
    parser.add_argument("--pose-model", help="pose config name in configs/pose/ or a YAML path")
    parser.add_argument("--pose-weights", help="pose checkpoint path or registry name ('random' for tests), or an "
                                               ".onnx pose model (with --pose-model, the config describing it)")
    parser.add_argument("--flow", help="flow backend: dis, farneback, tvl1, flownet2, flownets, ...")
    parser.add_argument("--flow-weights", metavar="NAME_OR_PATH",
                        help="weights of a learned flow backend (default: its trained checkpoint; a checkpoint name "
                             "such as things, a file, or 'random' for untrained weights)")
    parser.add_argument("--device", help="cpu, cuda or cuda:N (cuda in a sharded run: cuda:LOCAL_RANK)")
    parser.add_argument("--precision", help="auto, fp32, bf16, fp16 or int8: number format of the pose network "
                                            "(auto: the fastest this device does natively)")
    parser.add_argument("--runtime", help="auto, pytorch, onnxruntime or openvino: what runs the pose network")
    parser.add_argument("--config", help="track config YAML or name in configs/track/ (default: default)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set association.memory=5 (repeatable)")
    parser.add_argument("--overlay", action="store_true", help="also write DIR/<stem>_overlay.mp4")
    parser.add_argument("--debug-frames", help="also write one overlay PNG per frame into this folder")
    parser.add_argument("--panels", default="", metavar="LIST",
                        help="overlay panels, comma-separated: flow (colour wheel), flow-magnitude, heatmap:ID "
                             "(the heatmaps of track ID)")
    parser.add_argument("--csv", metavar="FILE", help="also write one CSV row per frame, track and joint (columns in "
                                                      "the README; several videos: FILE_<video>.csv)")
    parser.add_argument("--per-track", metavar="DIR", help="also write one JSON per person: DIR/<video>/track_<id>.json")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--quiet", action="store_true", help="no timing table")
    return parser


def resolve_config(args) -> TrackConfig:
    """The track config with the CLI flags applied (flags override ``--set``, which overrides the YAML)."""
    overrides = list(args.set)
    flag_keys = {"pose_model": "pose.model", "pose_weights": "pose.weights", "flow": "flow.name",
                 "flow_weights": "flow.checkpoint", "device": "device",
                 "precision": "inference.precision", "runtime": "inference.runtime"}
    for flag, key in flag_keys.items():
        value = getattr(args, flag)
        if value is not None:
            overrides.append(f"{key}={value}")
    config = load_track_config(args.config, overrides)
    if args.detector:
        config = config.replace(detector=parse_detector_spec(args.detector, config.detector))
    return config


def print_flow_header(parts: Components) -> None:
    """The run header's flow line on stderr: which weights a learned flow backend runs (random ones said loudly)."""
    weights = getattr(parts.flow_estimator, "weights", "")
    if not weights:
        return  # no flow, or an OpenCV backend (no weights)
    name = getattr(parts.flow_estimator, "name", "")
    if weights.startswith("random"):
        print(f"flow: {name} with RANDOM weights (flow.checkpoint: random): the flow is meaningless; for testing only",
              file=sys.stderr)
    else:
        print(f"flow: {name} with weights {weights}", file=sys.stderr)


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


def _overlay_sink(args, out: Path, config: TrackConfig, timer: StageTimer) -> OverlaySink | None:
    """The overlay sink for --overlay / --debug-frames, or None when neither is asked for."""
    if not args.overlay and not args.debug_frames:
        if args.panels:
            raise OutputError("--panels draws on the overlay; add --overlay or --debug-frames DIR")
        return None
    from tracker.viz.render import RenderOptions

    flow_panel, heatmap_id = parse_panels(args.panels)
    options = RenderOptions(layout=POSETRACK18.name, joint_threshold=config.output.joint_score_threshold,
                            flow_panel=flow_panel, heatmap_track_id=heatmap_id)
    return OverlaySink(out, options, timer, video=args.overlay, frames_root=args.debug_frames)


# ----------------------------------------------------------------------------------------------------------------
# The work list


def plan(args) -> tuple[list[WorkItem], str]:
    """Every item the command line asks for (inputs checked before any work) and the output format."""
    fmt = args.format
    if args.gt_dir:  # submission: one prediction per ground-truth sequence, same file names and image lists
        gt_dir = Path(args.gt_dir)
        if not gt_dir.is_dir():
            raise PoseTrackFormatError(f"ground-truth folder {gt_dir} does not exist; give the folder of PoseTrack "
                                       f"annotation files with --gt-dir")
        gt_files = sorted(gt_dir.glob("*.json"))
        if not gt_files:
            raise PoseTrackFormatError(f"{gt_dir} holds no .json files; give the folder of PoseTrack annotation "
                                       f"files")
        sequences = [(path, read_sequence(path, role="any")) for path in gt_files]
        root = Path(args.images)
        if not root.is_dir():
            raise VideoError(f"image root {root} does not exist; give the folder the GT file_names are relative to")
        return sequence_items(sequences, root, args.max_frames), fmt  # auto: each sequence's ground truth's
    fmt = "2018" if fmt == "auto" else fmt
    if args.poses:
        videos = expand_inputs(args.video) if args.video else []
        files = expand_poses(args.poses)
        if videos and (len(videos) > 1 or len(files) > 1):
            raise PosesFileError("--poses with --video takes one poses file and one video; for several, give the "
                                 "image root of the poses files' names with --images")
        image_root = Path(args.images) if args.images else None
        return poses_items(files, image_root, videos[0] if videos else None, args.max_frames), fmt
    return video_items(expand_inputs(args.video or [args.images]), args.max_frames), fmt


def item_detector(config: TrackConfig, item: WorkItem, shared: DetectionFile | None):
    """The detection file of one item (``file:FOLDER``: its own file; ``file:FILE`` in submission mode: the
    shared file looked up by the item's image ids), or None for a detector model."""
    if config.detector.kind != "file":
        return None
    folder = Path(config.detector.path)
    detections = DetectionFile(folder / f"{item.name}.json", config.detector.score_threshold) if folder.is_dir() \
        else shared
    return detections.for_images(item.image_ids) if item.image_ids is not None else detections


def _check_detections(config: TrackConfig, items: list[WorkItem]) -> DetectionFile | None:
    """Every item's detection file exists (checked before any work); the shared file of ``file:FILE``, if any."""
    if config.detector.kind != "file" or items[0].poses_file is not None:
        return None
    path = Path(config.detector.path)
    if path.is_dir():
        missing = [item.name for item in items if not (path / f"{item.name}.json").is_file()]
        if missing:
            raise DetectorError(f"the detection folder {path} has no {missing[0]}.json ({len(missing)} missing); "
                                f"give one <video name>.json per video")
        return None
    if len(items) > 1 and items[0].reference is None and items[0].image_ids is None:
        raise DetectorError(f"--detector file:{path} gives the boxes of one video but {len(items)} videos are "
                            f"listed; give a folder with one <video name>.json per video")
    return DetectionFile(path, config.detector.score_threshold)


# ----------------------------------------------------------------------------------------------------------------
# The run


def run(args, config: TrackConfig, out: Path) -> list[Path]:
    """Track this rank's share of the work list with one set of components; returns the files it wrote."""
    info = rank_info()
    items, fmt = plan(args)
    shared = _check_detections(config, items)
    share = shard(items, info.rank, info.world_size)
    config = config.replace(device=rank_device(config.device, info))
    summary = RunSummary(out, info.rank, info.world_size, config_hash(config), info.run_id, args.resume)
    if info.world_size > 1:  # the machine's cores shared among its ranks, by every runtime (0 = runtime's default)
        import torch

        threads = rank_threads(info)
        torch.set_num_threads(threads)
        config = config.replace(
            inference=replace(config.inference, threads=config.inference.threads or threads),
            detector=replace(config.detector, threads=config.detector.threads or threads))
    warning = warn_if_config_changed(summary) if args.resume and info.is_main else None
    if warning:
        print(warning, file=sys.stderr)
    collector = Collector(info, summary.read_part, heartbeat=summary.heartbeat)
    timer = StageTimer()
    written: list[Path] = []
    try:
        try:
            if share:
                written = _track_share(args, config, out, share, fmt, shared, summary, timer, len(items) > 1)
        except BaseException as error:
            if info.world_size > 1:  # rank 0 may be waiting for this rank's part: say why it stopped
                summary.failed = str(error) or type(error).__name__
                summary.stages, summary.wall = dict(timer.seconds), timer.wall
                summary.write(finished=True)
            raise
        summary.stages, summary.wall = dict(timer.seconds), timer.wall
        summary.write(finished=True)
        parts = collector.gather(summary.part(finished=True))
    finally:
        collector.close()
    for path in written:
        print(f"wrote {path}")
    if parts is not None:  # rank 0
        summary.merge(parts)
        if not args.quiet:
            print(timing_table(parts) if info.world_size > 1 else timer.summary(), file=sys.stderr)
    return written


def _track_share(args, config, out, share, fmt, shared, summary, timer, several: bool = False) -> list[Path]:
    tracking_only = share[0].poses_file is not None
    first_detector = item_detector(config, share[0], shared) if not tracking_only else None
    config, parts = build_components(config, detector=first_detector, tracking_only=tracking_only,
                                     has_frames=share[0].source is not None)
    print_flow_header(parts)
    _note_precision(timer, parts, args)
    sinks = [PoseTrackSink(out, fmt, config.output.joint_score_threshold)]
    overlay = _overlay_sink(args, out, config, timer)
    if overlay is not None:
        sinks.append(overlay)
    sinks += table_sinks(args.csv, args.per_track, config.output.joint_score_threshold, several)
    panels = overlay.options if overlay is not None else None

    def track_item(item: WorkItem):
        given, layout = None, parts.layout
        if item.poses_file is not None:
            untracked = read_untracked_poses(item.poses_file, item.frames)
            given, layout = to_poses(untracked, config.flow.box_extend)[:item.frames], untracked.layout
        detector = None
        if not tracking_only:  # the first item's detection file was read to build the components: not again
            built = first_detector if item is share[0] else None
            detector = built or item_detector(config, item, shared) or parts.detector
        # smoothing.online auto: a video's outputs are smoothed, a submission's and given poses are not
        smooth = item.poses_file is None and item.reference is None
        return track(item.open(), config, detector=detector, pose_estimator=parts.pose_estimator,
                     flow_estimator=parts.flow_estimator, layout=layout, poses=given, timer=timer,
                     keep_flow=panels is not None and panels.flow_panel != "none",
                     keep_heatmaps=panels is not None and panels.heatmap_track_id >= 0, with_frames=True,
                     smooth_by_default=smooth)

    report = run_items(share, track_item, sinks, summary, args.resume, not args.no_progress)
    if report.skipped:
        print(f"resume: {len(report.skipped)} item(s) already done, skipped: {', '.join(report.skipped)}",
              file=sys.stderr)
    return report.written


def _note_precision(timer: StageTimer, parts: Components, args) -> None:
    """Which precision each network runs in, under the timing table; also printed now as the run header, unless
    the pose network is the fp32 reference path (nothing converted, nothing to say before the run)."""
    timer.notes = describe_precision(parts)
    reference = getattr(getattr(parts.pose_estimator, "choice", None), "reference", True)
    if timer.notes and not args.quiet and not reference:
        print("\n".join(timer.notes), file=sys.stderr, flush=True)


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
        print("error: interrupted; the items already finished are kept, the one in flight was discarded; run "
              "again with --resume to finish", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
