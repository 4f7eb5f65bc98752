"""PoseTrack evaluation with the official poseval's numbers: per-joint AP and CLEAR-MOT tracking metrics.

    python -m tracker.evaluate --gt GT_DIR --pred PRED_DIR [--json FILE] [--per-sequence] [--ap-only|--mot-only]
                               [--textbook] [--hota|--hota-only]

Every ``*.json`` of GT_DIR is one sequence (PoseTrack 2017 or 2018 format, read by ``pose.data.posetrack``); its
predictions are the file of the same name in PRED_DIR, with the same frames in the same order. The tables are
printed as poseval prints them (Head, Shou, Elb, Wri, Hip, Knee, Ankl, Total; MOTA per group, MOTP / precision /
recall totals). ``--textbook`` computes the textbook CLEAR-MOT values instead of poseval's (see
``tracker.eval.mot``); AP is the same either way.

PoseTrack21 folders and ``--hota`` (keypoint HOTA, on any format) go through ``tracker.eval.pt21``, which reports
the official PoseTrack21 kit's numbers.

In Python: ``evaluate(gt_dir, pred_dir)`` returns the same numbers as a dict (the ``--json`` layout).
"""
from __future__ import annotations

import argparse
import glob
import math
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose.data.posetrack import (
    PoseTrackFormatError,
    check_prediction_matches_gt,
    read_sequence,
)
from pose.fileio import write_json_atomic
from tracker.eval.ap import APResult, assign_frames, average_precision
from tracker.eval.data import (
    JOINT_NAMES,
    EvalFrame,
    EvaluationError,
    normalized_distances,
    sequence_frames,
)
from tracker.eval.mot import MOTResult, mot_metrics, sequences_counts, zero_counts

# poseval's printed groups (eval_helpers.getCum): joint ids averaged per column; Total is the 15-joint mean.
TABLE_GROUPS = {
    "Head": ("head_top", "neck", "nose"),
    "Shou": ("left_shoulder", "right_shoulder"),
    "Elb": ("left_elbow", "right_elbow"),
    "Wri": ("left_wrist", "right_wrist"),
    "Hip": ("left_hip", "right_hip"),
    "Knee": ("left_knee", "right_knee"),
    "Ankl": ("left_ankle", "right_ankle"),
}


MOT_KEYS = ("mota", "motp", "precision", "recall")


@dataclass
class PreparedSequence:
    """One sequence after poseval's cleanup, with the normalised distances (P, G, 15) of every frame."""

    name: str
    frames: list[EvalFrame]
    dists: list[np.ndarray]


def load_sequences(gt_dir: str | os.PathLike, pred_dir: str | os.PathLike) -> list[tuple]:
    """(ground truth, prediction) ``PoseTrackSequence`` pairs: every GT ``*.json`` and the same-named prediction.

    Sequences come in poseval's order, ``glob.glob(gt_dir + "/*.json")`` unsorted (it decides only how AP breaks
    score ties between sequences). Both sides are read with role "any": like poseval, joints without a score
    are ranked at -9999 rather than refused, a missing GT head box is an error only where poseval needs it, and
    NaN / infinite numbers (which Python's json, and so poseval, reads) are scored as poseval scores them.
    Raises ``EvaluationError`` / ``PoseTrackFormatError`` naming the file (and frame) on bad input.
    """
    gt_dir, pred_dir = Path(gt_dir), Path(pred_dir)
    for label, folder in (("ground-truth", gt_dir), ("prediction", pred_dir)):
        if not folder.is_dir():
            raise EvaluationError(f"the {label} folder {folder} does not exist; "
                                  "pass the folder of per-sequence .json files")
    gt_files = [Path(f) for f in glob.glob(os.path.join(glob.escape(str(gt_dir)), "*.json"))]
    if not gt_files:
        raise EvaluationError(f"the ground-truth folder {gt_dir} holds no .json files; "
                              "pass the PoseTrack annotation folder")
    pairs = []
    for gt_file in gt_files:
        pred_file = pred_dir / gt_file.name
        if not pred_file.is_file():
            raise EvaluationError(
                f"no prediction file {pred_file} for the ground-truth sequence {gt_file.name}; write one prediction "
                "file per ground-truth sequence, with the same file name"
            )
        gt = read_sequence(gt_file, role="any", lenient=True)
        pred = read_sequence(pred_file, role="any", lenient=True)
        check_prediction_matches_gt(pred, gt)
        pairs.append((gt, pred))
    return pairs


def unscored_predictions(pairs: list[tuple]) -> list[str]:
    """Names of prediction sequences with a predicted joint that has no score (poseval ranks those at -9999)."""
    def unscored(p) -> bool:
        if p.scores is None:
            return bool(p.present.any())
        return p.scored is not None and bool(np.any(p.present & ~np.asarray(p.scored, bool)))

    return [pred.name for _, pred in pairs if any(unscored(p) for f in pred.frames for p in f.people)]


def prepare_sequences(pairs: list[tuple]) -> list[PreparedSequence]:
    """poseval's cleanup and the normalised distances for every (ground truth, prediction) sequence pair."""
    prepared = []
    for gt, pred in pairs:
        frames = sequence_frames(gt, pred)
        prepared.append(PreparedSequence(gt.name, frames, [normalized_distances(f) for f in frames]))
    return prepared


def compute_ap(prepared: list[PreparedSequence], per_sequence: bool = False) -> tuple[APResult, dict]:
    """Pooled AP over all sequences, and per sequence when asked ({name: APResult}).

    Like poseval, the per-sequence results leave out sequences without any evaluated frame.
    """
    per_seq_dets = [assign_frames(s.frames, s.dists) for s in prepared]
    total = average_precision([det for dets in per_seq_dets for det in dets])
    seqs = ({s.name: average_precision(dets) for s, dets in zip(prepared, per_seq_dets) if s.frames}
            if per_sequence else {})
    return total, seqs


def single_frame_sequences(prepared: list[PreparedSequence]) -> list[str]:
    """Sequences with exactly one evaluated frame: poseval's tracking evaluation drops the last frame of every
    sequence and then reads the first of the remaining ones, so it cannot score these (it crashes)."""
    return [s.name for s in prepared if len(s.frames) == 1]


def compute_mot(prepared: list[PreparedSequence], textbook: bool = False,
                per_sequence: bool = False) -> tuple[MOTResult, dict]:
    """MOT metrics from counts summed over sequences, and per sequence when asked ({name: MOTResult}).

    Sequences without any evaluated frame are left out, as poseval does. A sequence with exactly one evaluated
    frame (``single_frame_sequences``) makes poseval crash: ``EvaluationError`` here, except in textbook mode.
    """
    single = [] if textbook else single_frame_sequences(prepared)
    if single:
        raise EvaluationError(
            f"sequence {', '.join(single)}: a single labeled frame with people, which poseval's tracking "
            "evaluation cannot handle (it drops the last frame of every sequence and then crashes); "
            "use --ap-only, --textbook, or ground truth with at least two such frames")
    prepared = [s for s in prepared if s.frames]
    counts = sequences_counts([(s.frames, s.dists) for s in prepared], textbook)
    total = sum(counts, zero_counts())
    seqs = {s.name: mot_metrics(c, textbook) for s, c in zip(prepared, counts)} if per_sequence else {}
    return mot_metrics(total, textbook), seqs


def _metric(values: np.ndarray, total: float) -> dict:
    return {"per_joint": {name: float(v) for name, v in zip(JOINT_NAMES, values)}, "total": float(total)}


def _results_dict(ap: APResult | None, mot: MOTResult | None) -> dict:
    out = {}
    if ap is not None:
        t = ap.totals
        out["ap"] = _metric(ap.ap, t["ap"])
        out["ap_precision"] = _metric(ap.precision, t["precision"])
        out["ap_recall"] = _metric(ap.recall, t["recall"])
    if mot is not None:
        t = mot.totals
        for name in MOT_KEYS:
            out[name] = _metric(getattr(mot, name), t[name])
    return out


def evaluate_sequences(pairs: list[tuple], ap: bool = True, mot: bool = True, textbook: bool = False,
                       per_sequence: bool = False, warn=None, mot_only: bool | None = None) -> dict:
    """:func:`evaluate` on (ground truth, prediction) ``PoseTrackSequence`` pairs already in memory.

    mot_only: whether the tracking metrics are all that is asked for (default ``not ap``); then a sequence poseval
    cannot track is an error, otherwise the MOT keys are None with one ``warn(message)``.
    """
    prepared = prepare_sequences(pairs)
    mot_only = (not ap) if mot_only is None else mot_only
    single = [] if textbook or not mot or mot_only else single_frame_sequences(prepared)
    if single:  # AP is well defined; MOT as poseval computes it is not: skipped, with one warning
        (warn or warnings.warn)(
            f"MOTA, MOTP and the tracking precision / recall are left out: sequence{'s' * (len(single) > 1)} "
            f"{', '.join(single)} {'have' if len(single) > 1 else 'has'} a single labeled frame with people, and "
            "poseval's tracking evaluation drops the last frame of every sequence (it crashes there); AP does not "
            "depend on it. --textbook computes CLEAR-MOT over every frame instead")
        mot = False
    ap_total, ap_seqs = compute_ap(prepared, per_sequence) if ap else (None, {})
    mot_total, mot_seqs = compute_mot(prepared, textbook, per_sequence) if mot else (None, {})
    result = _results_dict(ap_total, mot_total)
    if single:
        result.update({name: None for name in MOT_KEYS})
    if per_sequence:
        result["per_sequence"] = {
            s.name: _results_dict(ap_seqs.get(s.name), mot_seqs.get(s.name)) for s in prepared if s.frames
        }
    return result


def evaluate(gt_dir: str | os.PathLike, pred_dir: str | os.PathLike, ap: bool = True, mot: bool = True,
             textbook: bool = False, per_sequence: bool = False, warn=None) -> dict:
    """Evaluate a prediction folder against a ground-truth folder, with poseval's numbers.

    Returns ``{"ap" | "ap_precision" | "ap_recall" | "mota" | "motp" | "precision" | "recall":
    {"per_joint": {poseval joint name: value}, "total": value}}`` (values x100; AP keys only with ``ap``,
    MOT keys only with ``mot``), plus ``"per_sequence": {sequence name: the same}`` with ``per_sequence``.
    ``textbook``: CLEAR-MOT without poseval's quirks (every frame, real misses and false positives in empty
    frames, MOTP over matched pairs only).

    Where poseval cannot compute the tracking metrics (a sequence with a single labeled frame with people), AP is
    returned with the MOT keys None and a warning (``warn(message)``, default ``warnings.warn``); with
    ``ap=False`` that is an ``EvaluationError``.
    """
    return evaluate_sequences(load_sequences(gt_dir, pred_dir), ap, mot, textbook, per_sequence, warn)


# ---------------------------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------------------------

def table_values(metric: dict) -> list[float]:
    """The 7 group means and the 15-joint total of one ``{"per_joint", "total"}`` metric (poseval getCum)."""
    per_joint = metric["per_joint"]
    return [float(np.mean([per_joint[n] for n in names])) for names in TABLE_GROUPS.values()] + [metric["total"]]


def _row(values: list[float]) -> str:
    return "".join(f"&{v:5.1f} " for v in values) + "\\\\"


def format_tables(result: dict) -> str:
    """The AP and MOT tables as poseval prints them (LaTeX-style rows)."""
    lines = []
    if "ap" in result:
        lines += [
            "Average Precision (AP) metric:",
            "& Head & Shou & Elb  & Wri  & Hip  & Knee & Ankl & Total\\\\",
            _row(table_values(result["ap"])),
        ]
    if result.get("mota") is not None:
        lines += [
            "Multiple Object Tracking (MOT) metrics:",
            "& MOTA & MOTA & MOTA & MOTA & MOTA & MOTA & MOTA & MOTA & MOTP & Prec & Rec  \\\\",
            "& Head & Shou & Elb  & Wri  & Hip  & Knee & Ankl & Total& Total& Total& Total\\\\",
            _row(table_values(result["mota"]) + [result[k]["total"] for k in ("motp", "precision", "recall")]),
        ]
    return "\n".join(lines)


def _json_safe(obj):
    """NaN / inf (no GT joints of a type, no objects) -> null, so the file is strict JSON."""
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _write_json(obj: dict, path: Path) -> None:
    write_json_atomic(path, _json_safe(obj), indent=1)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tracker.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("--gt", required=True, help="folder of ground-truth .json files, one per sequence")
    p.add_argument("--pred", required=True, help="folder of prediction .json files with the same names")
    p.add_argument("--json", help="also write the numbers to this JSON file")
    p.add_argument("--per-sequence", action="store_true", help="also print the tables of every sequence")
    only = p.add_mutually_exclusive_group()
    only.add_argument("--ap-only", action="store_true", help="pose estimation AP only")
    only.add_argument("--mot-only", action="store_true", help="tracking metrics (MOTA, MOTP, ...) only")
    only.add_argument("--hota-only", action="store_true", help="keypoint HOTA only (implies --hota)")
    p.add_argument("--hota", action="store_true",
                   help="also keypoint HOTA as the official PoseTrack21 kit computes it (any PoseTrack format)")
    p.add_argument("--textbook", action="store_true",
                   help="textbook CLEAR-MOT instead of poseval's quirks: all labeled frames, real misses and "
                        "false positives in empty frames, MOTP over matched pairs only")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tracker.eval import pt21  # PoseTrack21 folders and keypoint HOTA (it builds on this module)
    hota = args.hota or args.hota_only
    try:
        posetrack21 = pt21.is_posetrack21_folder(args.gt)
        pairs = pt21.load_pairs(args.gt, args.pred) if posetrack21 else load_sequences(args.gt, args.pred)
        unscored = unscored_predictions(pairs)
        if unscored and not (args.mot_only or args.hota_only):
            print(f"warning: predictions without per-joint scores in {', '.join(unscored)}; like poseval, their "
                  "joints are ranked last (score -9999), which makes AP meaningless", file=sys.stderr)
        ap, mot = not (args.mot_only or args.hota_only), not (args.ap_only or args.hota_only)
        warn = lambda message: print(f"warning: {message}", file=sys.stderr)  # noqa: E731
        if posetrack21 or hota:
            result = pt21.evaluate_pairs(pairs, hota=hota, ap=ap, mot=mot, textbook=args.textbook,
                                         per_sequence=args.per_sequence, posetrack21=posetrack21, warn=warn,
                                         mot_only=args.mot_only)
        else:
            result = evaluate_sequences(pairs, ap=ap, mot=mot, textbook=args.textbook,
                                        per_sequence=args.per_sequence, warn=warn, mot_only=args.mot_only)
        if args.json:
            _write_json({k: v for k, v in result.items() if k != "per_sequence"}, Path(args.json))
    except (EvaluationError, PoseTrackFormatError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name, seq_result in result.get("per_sequence", {}).items():
        if "ap" in seq_result or seq_result.get("mota") is not None:
            print(f"Sequence {name}:")
            print(format_tables(seq_result))
    if hota and args.per_sequence:
        print(pt21.format_hota_sequences(result["per_sequence"]))
    if args.per_sequence:
        print("All sequences:")
    if "ap" in result or result.get("mota") is not None:
        print(format_tables(result))
    if hota:
        print(pt21.format_hota_table(result["hota"]))
    if args.textbook and result.get("mota") is not None:
        print("(textbook CLEAR-MOT: all frames, real misses / false positives, MOTP over matched pairs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
