"""PoseTrack21 folders and keypoint HOTA for ``python -m tracker.evaluate``.

On PoseTrack21 folders (``pose.data.posetrack.format21``) the evaluator reports what the official PoseTrack21 kit
reports, from the kit's frame rules (``tracker.eval.kit_frames``):

- ``"hota"``: keypoint HOTA (``tracker.eval.hota``), every field per kit joint and in total, 0-1;
- ``"ap"``, ``"ap_precision"``, ``"ap_recall"``: the kit's pose mAP, which is poseval's AP (``tracker.eval.ap``)
  on the kit's frames (x100, poseval joint names, as for 2017/2018 folders);
- ``"mota"``, ``"motp"``, ``"precision"``, ``"recall"``: what poseval computes on the same files (the kit has no
  keypoint MOTA): poseval's own frame rules and ``tracker.eval.mot`` on the same sequences.

Sequences are the ground truth's ``*.json`` files in sorted order; a prediction file of the same name must exist
and list the ground truth's images in the same order (it may list more).
"""
from __future__ import annotations

import os
from pathlib import Path

from pose.data.posetrack.format21 import check_pair, is_posetrack21_file, read_posetrack21
from tracker.eval.hota import COLUMNS, COUNT_FIELDS, HotaResult, combine, sequence_hota
from tracker.eval.kit_frames import kit_frames
from tracker.eval.data import EvaluationError, normalized_distances
from tracker.eval.cli import PreparedSequence, _results_dict, compute_ap, evaluate_sequences

# The kit's summary rows, in its order.
SUMMARY_ROWS = ("HOTA_TP(0)", "HOTA_FN(0)", "HOTA_FP(0)", "HOTA_TP", "HOTA_FN", "HOTA_FP", "AssRe", "AssPr", "AssA",
                "FragA", "LocA", "DetRe", "DetPr", "DetA", "HOTA", "RHOTA", "FA-HOTA", "FA-RHOTA", "HOTA(0)",
                "LocA(0)", "HOTALocA(0)")
# The kit's per-sequence columns, in its order.
SEQUENCE_COLUMNS = ("HOTA", "DetA", "AssA", "FragA", "DetRe", "DetPr", "AssRe", "AssPr", "LocA", "RHOTA", "FA-HOTA",
                    "FA-RHOTA", "HOTA_TP", "HOTA_FN", "HOTA_FP", "HOTA(0)", "LocA(0)", "HOTALocA(0)", "HOTA_TP(0)",
                    "HOTA_FN(0)", "HOTA_FP(0)")
_COUNTS = set(COUNT_FIELDS) | {f"{name}(0)" for name in COUNT_FIELDS}


def _json_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json"))


def is_posetrack21_folder(gt_dir: str | os.PathLike) -> bool:
    """Whether the first ``*.json`` of a ground-truth folder is a PoseTrack21 file."""
    files = _json_files(Path(gt_dir)) if Path(gt_dir).is_dir() else []
    return bool(files) and is_posetrack21_file(files[0])


def load_pairs(gt_dir: str | os.PathLike, pred_dir: str | os.PathLike) -> list[tuple]:
    """(ground truth, prediction) ``PoseTrackSequence`` pairs of two PoseTrack21 folders, in sorted order.

    Raises ``EvaluationError`` / ``PoseTrackFormatError`` naming the file, frame and person on bad input.
    """
    gt_dir, pred_dir = Path(gt_dir), Path(pred_dir)
    for label, folder in (("ground-truth", gt_dir), ("prediction", pred_dir)):
        if not folder.is_dir():
            raise EvaluationError(f"the {label} folder {folder} does not exist; "
                                  "pass the folder of per-video .json files")
    gt_files = _json_files(gt_dir)
    if not gt_files:
        raise EvaluationError(f"the ground-truth folder {gt_dir} holds no .json files; "
                              "pass the PoseTrack21 annotation folder")
    pairs = []
    for gt_file in gt_files:
        pred_file = pred_dir / gt_file.name
        if not pred_file.is_file():
            raise EvaluationError(f"no prediction file {pred_file} for the ground-truth video {gt_file.name}; write "
                                  "one prediction file per ground-truth file, with the same file name")
        gt = read_posetrack21(gt_file, role="gt")
        pred = read_posetrack21(pred_file, role="any")
        check_pair(pred, gt)
        pairs.append((gt, pred))
    return pairs


def kit_prepare(pairs: list[tuple]) -> list[PreparedSequence]:
    """The kit's evaluated frames and their normalised distances, per sequence pair."""
    prepared = []
    for gt, pred in pairs:
        frames = kit_frames(gt, pred)
        prepared.append(PreparedSequence(gt.name, frames, [normalized_distances(f) for f in frames]))
    return prepared


def hota_fields(result: HotaResult) -> dict:
    """{field: (16,) values}: the alpha means and the values at alpha = 0.05, as the kit reports them."""
    return {**result.alpha_mean, **result.at_first_alpha()}


def hota_dict(result: HotaResult) -> dict:
    """``{METRIC: {"per_joint": {kit joint name: value}, "total": value}}`` (the ``--json`` layout)."""
    return {name: {"per_joint": {j: float(v) for j, v in zip(COLUMNS[:-1], values[:-1])}, "total": float(values[-1])}
            for name, values in hota_fields(result).items()}


def compute_hota(prepared: list[PreparedSequence], per_sequence: bool = False) -> tuple[HotaResult, dict]:
    """The combined keypoint HOTA, and per sequence when asked ({name: HotaResult})."""
    results = [sequence_hota(s.frames, s.dists) for s in prepared]
    seqs = {s.name: r for s, r in zip(prepared, results)} if per_sequence else {}
    return combine(results), seqs


def evaluate_pairs(pairs: list[tuple], hota: bool = True, ap: bool = True, mot: bool = True, textbook: bool = False,
                   per_sequence: bool = False, posetrack21: bool = True, warn=None, mot_only: bool = False) -> dict:
    """Evaluate sequence pairs: ``"hota"`` from the kit's frames; on PoseTrack21 (``posetrack21``) the kit's mAP as
    ``"ap"`` and poseval's MOT metrics; on 2017/2018 pairs poseval's AP and MOT (``tracker.evaluate``)."""
    if posetrack21:
        truncated = [(gt, _first_frames(pred, len(gt.frames))) for gt, pred in pairs]
        result = evaluate_sequences(truncated, ap=False, mot=mot, textbook=textbook, per_sequence=per_sequence,
                                    warn=warn, mot_only=mot_only)
    else:
        result = evaluate_sequences(pairs, ap=ap, mot=mot, textbook=textbook, per_sequence=per_sequence, warn=warn,
                                    mot_only=mot_only)
    per_seq = result.pop("per_sequence", {})
    prepared = kit_prepare(pairs) if (hota or (ap and posetrack21)) else []
    if ap and posetrack21:
        ap_total, ap_seqs = compute_ap(prepared, per_sequence)
        result.update(_results_dict(ap_total, None))
        for name, value in ap_seqs.items():
            per_seq.setdefault(name, {}).update(_results_dict(value, None))
    if hota:
        total, seqs = compute_hota(prepared, per_sequence)
        result["hota"] = hota_dict(total)
        for name, value in seqs.items():
            per_seq.setdefault(name, {})["hota"] = hota_dict(value)
    if per_sequence:
        result["per_sequence"] = per_seq
    return result


def _first_frames(seq, n: int):
    """The sequence cut to its first ``n`` frames (the kit ignores prediction images beyond the ground truth's)."""
    if len(seq.frames) == n:
        return seq
    return type(seq)(seq.name, seq.frames[:n], seq.source_format, seq.extra)


def _value(name: str, value: float) -> str:
    return str(int(value)) if name in _COUNTS else f"{100 * value:1.5g}"


def format_hota_table(hota: dict) -> str:
    """The kit's keypoint HOTA summary: one row per field, one column per joint and Total (x100; counts as ints)."""
    lines = ["Keypoint HOTA (PoseTrack21 kit):", "\t" + " " * 24 + "".join(f"{c:<10}" for c in COLUMNS),
             "\t" + f"{'Metric':<24}"]
    for name in SUMMARY_ROWS:
        metric = hota[name]
        values = list(metric["per_joint"].values()) + [metric["total"]]
        lines.append("\t" + f"{name:<24}" + "".join(f"{_value(name, v):<10}" for v in values))
    return "\n".join(lines)


def format_hota_sequences(per_sequence: dict) -> str:
    """The kit's per-sequence rows: the Total of every field, one row per sequence."""
    lines = [f"{'Sequence':<25}" + "".join(f"{c:<15}" for c in SEQUENCE_COLUMNS)]
    for name, result in per_sequence.items():
        if "hota" in result:
            lines.append(f"{name + '.json':<25}"
                         + "".join(f"{_value(c, result['hota'][c]['total']):<15}" for c in SEQUENCE_COLUMNS))
    return "\n".join(lines)
