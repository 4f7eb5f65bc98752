"""``python -m pose.data.posetrack check FILE... | convert SRC DST --format 2017|2018``."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Iterable

from pose.data.posetrack.checks import check_prediction_matches_gt
from pose.data.posetrack.files import read_sequence, write_sequence
from pose.data.posetrack.types import PoseTrackFormatError, PoseTrackSequence, ROLES


def _summary(seq: PoseTrackSequence) -> str:
    people = sum(len(f.people) for f in seq.frames)
    tracks = len({p.track_id for f in seq.frames for p in f.people})
    return f"{seq.source_format} format, {len(seq.frames)} frames, {people} people, {tracks} tracks"


def _convert_cli(src: Path, dst_text: str, fmt: str, role: str) -> list[tuple[Path, Path]]:
    """dst_text: a file, or a folder (existing, ending in "/", or without a .json suffix)."""
    dst = Path(dst_text)
    if src.is_dir():
        files = sorted(src.glob("*.json"))
        if not files:
            raise PoseTrackFormatError(f"{src}: holds no .json files; pass a PoseTrack file or a folder of them.", src)
        pairs = [(f, dst / f.name) for f in files]
    else:
        into_folder = dst.is_dir() or dst_text.endswith(("/", os.sep)) or dst.suffix.lower() != ".json"
        pairs = [(src, dst / src.name if into_folder else dst)]
    sequences = [read_sequence(s, role) for s, _ in pairs]  # validate everything before writing anything
    for seq, (_, d) in zip(sequences, pairs):
        write_sequence(seq, d, fmt)
    return pairs


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pose.data.posetrack",
                                     description="Validate and convert PoseTrack 2017/2018/21 annotation files.")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="validate files; prints one line per file")
    check.add_argument("files", nargs="+", type=Path)
    check.add_argument("--role", choices=ROLES, default="any",
                       help="gt: require head boxes; pred: require per-joint scores; any: structure only")
    check.add_argument("--gt", type=Path, default=None,
                       help="ground-truth folder: also check that each file lists the same images in the same order")
    conv = sub.add_parser("convert", help="convert a file (or every .json of a folder) to the other format")
    conv.add_argument("src", type=Path)
    conv.add_argument("dst", help="output file, or folder (created) for a folder or a path ending in /")
    conv.add_argument("--format", choices=("2017", "2018", "21"), required=True, dest="fmt",
                      help="2017 (annolist), 2018 (COCO-like) or 21 (PoseTrack21)")
    conv.add_argument("--role", choices=ROLES, default="any")
    args = parser.parse_args(None if argv is None else list(argv))
    try:
        if args.command == "check":
            failed = 0
            for path in args.files:  # every file is checked; one error line per bad file
                try:
                    seq = read_sequence(path, args.role)
                    if args.gt is not None:
                        gt_file = args.gt / path.name
                        if not gt_file.exists():
                            raise PoseTrackFormatError(f"{path}: has no ground-truth file {gt_file}; poseval needs "
                                                       "a prediction file named like every ground-truth file.", path)
                        check_prediction_matches_gt(seq, read_sequence(gt_file, "gt"))
                except PoseTrackFormatError as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    failed += 1
                    continue
                print(f"ok: {path}: {_summary(seq)}")
            return 2 if failed else 0
        else:
            for s, d in _convert_cli(args.src, args.dst, args.fmt, args.role):
                print(f"wrote {d} (PoseTrack {args.fmt}) from {s}")
    except PoseTrackFormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc}; check the path and permissions.", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
