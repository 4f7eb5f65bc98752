"""``python -m pose.data.synthetic --out DIR --videos N --frames F --seed S`` (``--help`` for more)."""
from __future__ import annotations

import argparse
import sys

from pose.data.synthetic.dataset import generate_dataset
from pose.data.synthetic.detections import DetectionNoise
from pose.data.synthetic.scene import SyntheticDataError, VideoConfig


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 640x480, got {text!r}") from None
    return w, h


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one sentence, exit 2, no usage dump
        print(f"error: {message}; see --help", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m pose.data.synthetic",
                description="Seeded synthetic multi-person videos with exact ground truth, in PoseTrack 2018 and COCO "
                            "formats.")
    p.add_argument("--out", required=True, help="output folder (created if needed)")
    p.add_argument("--videos", type=int, default=1, help="number of videos")
    p.add_argument("--frames", type=int, default=60, help="frames per video")
    p.add_argument("--seed", type=int, default=0, help="random seed; one seed gives identical output")
    p.add_argument("--size", type=_size, default=(640, 480), help="frame size WIDTHxHEIGHT (default 640x480)")
    p.add_argument("--people", type=int, default=None,
                   help="people (tracks) per video over its whole length (default: 2-6 at random)")
    p.add_argument("--label-stride", type=int, default=1, help="label every Nth frame (default every frame)")
    p.add_argument("--first-id", type=int, default=0, help="video id of the first sequence name")
    p.add_argument("--set", dest="image_set", default="",
                   help="write annotations/<SET>/<seq>.json and coco/<SET>.json (the PoseTrack training layout), "
                        "e.g. --set train --seed 1, then --set val --first-id 1000 --seed 2 into the same folder "
                        "(videos are drawn from the seed and their position in the run, not from their id: give "
                        "each set its own seed)")
    p.add_argument("--crowd-prob", type=float, default=VideoConfig.crowd_probability,
                   help="chance of a background crowd marked as an ignore region")
    p.add_argument("--occluder-prob", type=float, default=VideoConfig.occluder_probability,
                   help="chance of foreground posts that hide the people behind them")
    p.add_argument("--no-pan", action="store_true", help="keep the camera still")
    p.add_argument("--posetrack-occluded", choices=("drop", "keep"), default="drop",
                   help="hidden joints in the PoseTrack files: drop (0,0,0, default) or keep (x,y,1)")
    p.add_argument("--no-images", action="store_true",
                   help="do not write JPEG frames (the annotation files still name them)")
    p.add_argument("--no-videos", action="store_true", help="do not write mp4 files")
    noise = DetectionNoise()
    p.add_argument("--det-jitter", type=float, default=noise.jitter,
                   help=f"detections: box centre / size noise, fraction of the box size (default {noise.jitter})")
    p.add_argument("--det-miss", type=float, default=noise.miss,
                   help=f"detections: probability that a person is missed in a frame (default {noise.miss})")
    p.add_argument("--det-false", type=float, default=noise.false_positives,
                   help=f"detections: mean false boxes per frame (default {noise.false_positives})")
    p.add_argument("--det-score-noise", type=float, default=noise.score_noise,
                   help=f"detections: standard deviation of true boxes' scores (default {noise.score_noise})")
    p.add_argument("--no-detections", action="store_true", help="do not write detections/<seq>.json")
    p.add_argument("--jpeg-quality", type=int, default=90)
    p.add_argument("--benchmark", action="store_true", help="print frames per second when done")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if not 1 <= args.jpeg_quality <= 100:
            raise SyntheticDataError(f"--jpeg-quality must be from 1 to 100, got {args.jpeg_quality}")
        config = VideoConfig(camera_pan=not args.no_pan, crowd_probability=args.crowd_prob,
                             occluder_probability=args.occluder_prob)
        summary = generate_dataset(
            args.out, args.videos, args.frames, args.seed, size=args.size, num_people=args.people,
            label_stride=args.label_stride, first_id=args.first_id, write_images=not args.no_images,
            write_videos=not args.no_videos, posetrack_occluded=args.posetrack_occluded,
            jpeg_quality=args.jpeg_quality, config=config, progress=not args.quiet, image_set=args.image_set,
            detections=None if args.no_detections else DetectionNoise(
                jitter=args.det_jitter, miss=args.det_miss, false_positives=args.det_false,
                score_noise=args.det_score_noise),
        )
    except SyntheticDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {summary['videos']} videos, {summary['frames']} frames ({summary['labeled_frames']} labelled), "
          f"{summary['people']} tracks to {args.out}")
    if args.benchmark:
        cpu_ms = 1000.0 * summary["cpu_seconds"] / max(summary["frames"], 1)
        print(f"{summary['fps']:.1f} frames/s ({summary['seconds']:.2f} s wall, {cpu_ms:.1f} ms CPU per frame over "
              f"all threads, {args.size[0]}x{args.size[1]}, images={'no' if args.no_images else 'yes'}, "
              f"videos={'no' if args.no_videos else 'yes'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
