"""Pose accuracy and the FlowTrack tracking ablation on held-out synthetic videos, with the shipped synthetic HRNet.

    python benchmarks/synthetic_tracking.py                          # 6 videos x 80 frames, seed 7, 640x480 (~2 min)
    python benchmarks/synthetic_tracking.py --videos 2 --frames 40  # quicker
    python benchmarks/synthetic_tracking.py --full                   # full pipeline for every row (slower)

1. Generates a held-out set with ``pose.data.synthetic`` (a seed the weights were not trained on) and its
   detections: the ground-truth boxes with the generator's default noise (5% jitter, 10% missed, 0.3 false boxes
   per frame).
2. Pose accuracy of the model on ground-truth person boxes: **PCKh@0.5** as poseval normalises (a joint is
   correct when it lies within 0.5 x head size, head size = 0.6 x the diagonal of the annotated head box), over
   the annotated (visible) joints of every ``--pck-stride``-th frame, flip test on.
3. Tracking: ``tracker.track`` on every video's frames with the ``file:`` detections (and the ONNX YOLOX-nano of
   ``--yolox`` when present: a COCO model on real photos, run here on drawn people), predictions written as
   PoseTrack 2018 files, scored by ``tracker.eval.cli.evaluate`` (poseval's total AP and MOTA). The rows are the
   FlowTrack ablation (Xiao et al. 2018, Table 5): flow box propagation on or off (``flow.propagate``), times the
   association similarity (``association.similarity``: box IoU, OKS, flow OKS, multi-frame flow OKS).

Poses do not depend on the association similarity (the propagated boxes come from the previous frame's poses,
not from their ids), so by default the pipeline runs in full once per detector and propagation setting (with
multi-frame flow OKS) and the other similarities re-associate those poses in the pipeline's tracking-only mode,
on the same frames and flow; the re-run of multi-frame flow OKS in that mode must give the full run's ids, which
is checked. ``--full`` runs the whole pipeline for every row instead.
"""
from __future__ import annotations

import argparse
import os
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pose.data import synthetic as syn  # noqa: E402
from pose.keypoints import POSETRACK18  # noqa: E402
from tracker.config import load_track_config  # noqa: E402
from tracker.eval.cli import evaluate  # noqa: E402
from tracker.components import build_flow_estimator, build_pose_estimator  # noqa: E402
from tracker.pipeline import track  # noqa: E402
from tracker.sinks import write_tracked  # noqa: E402

YOLOX = Path(os.environ.get("POSETRACK_SHARED", REPO.parent / "shared")) / "data" / "models" / "yolox_nano.onnx"
SIMILARITIES = ("box_iou", "oks", "flow_oks", "multi_flow_oks")
HEAD_SIZE_FACTOR = 0.6      # poseval's SC_BIAS: head size = 0.6 x head-box diagonal
PCK_GROUPS = {"Head": ("head_bottom", "head_top", "nose"), "Shou": ("left_shoulder", "right_shoulder"),
              "Elb": ("left_elbow", "right_elbow"), "Wri": ("left_wrist", "right_wrist"),
              "Hip": ("left_hip", "right_hip"), "Knee": ("left_knee", "right_knee"),
              "Ankl": ("left_ankle", "right_ankle")}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--videos", type=int, default=6)
    p.add_argument("--frames", type=int, default=80)
    p.add_argument("--seed", type=int, default=7, help="held-out seed (the shipped weights trained on seed 1)")
    p.add_argument("--size", default="640x480")
    p.add_argument("--weights", default="hrnet_synthetic", help="pose weights: registry name or path")
    p.add_argument("--pose-model", default="hrnet_synthetic", help="pose config the weights fit")
    p.add_argument("--flow", default="dis")
    p.add_argument("--flow-preset", default="", help="DIS preset (flow.preset): ultrafast, fast, medium")
    p.add_argument("--yolox", default=str(YOLOX), help="YOLOX .onnx for the extra rows; 'none' to skip")
    p.add_argument("--pck-stride", type=int, default=2, help="PCK on every Nth frame")
    p.add_argument("--full", action="store_true", help="run the full pipeline for every row")
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads (0: torch's default; 1 is much faster on a CPU shared with other jobs)")
    p.add_argument("--out", help="work folder (default: a temporary one, removed at the end)")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--reentry", action="store_true",
                   help="run the re-entry ablation on hard scenes (exits, posts, alike clothing) instead")
    p.add_argument("--hard-videos", type=int, default=4, help="--reentry: hard videos")
    p.add_argument("--hard-frames", type=int, default=300, help="--reentry: frames per hard video (25 fps)")
    p.add_argument("--lost-seconds", type=float, default=5.0, help="--reentry: association.lost_seconds")
    return p.parse_args(argv)


# ------------------------------------------------------------------------------------------------------ PCK
def pckh(data: Path, estimator, stride: int) -> tuple[dict[str, float], int]:
    """PCKh@0.5 (percent) per joint group and in total over the annotated joints of every ``stride``-th frame."""
    names = list(POSETRACK18.joints)
    hits, counts = np.zeros(len(names)), np.zeros(len(names))
    people = 0
    for ann_file in sorted((data / "annotations").glob("*.json")):
        gt = json.loads(ann_file.read_text())
        by_image: dict = {}
        for a in gt["annotations"]:
            by_image.setdefault(a["image_id"], []).append(a)
        for t, image in enumerate(gt["images"]):
            anns = by_image.get(image["id"], [])
            if t % stride or not anns:
                continue
            rgb = cv2.cvtColor(cv2.imread(str(data / image["file_name"])), cv2.COLOR_BGR2RGB)
            boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in anns)], np.float32)
            pred, _ = estimator(rgb, boxes)
            for a, p in zip(anns, pred):
                kp = np.array(a["keypoints"], np.float64).reshape(-1, 3)
                labelled = kp[:, 2] > 0
                _, _, hw, hh = a["bbox_head"]
                head = HEAD_SIZE_FACTOR * np.hypot(hw, hh)
                dist = np.linalg.norm(p - kp[:, :2], axis=1)
                hits += labelled & (dist <= 0.5 * head)
                counts += labelled
                people += 1
    table = {}
    for group, joints in PCK_GROUPS.items():
        idx = [names.index(j) for j in joints]
        table[group] = 100.0 * hits[idx].sum() / max(counts[idx].sum(), 1)
    table["Total"] = 100.0 * hits.sum() / max(counts.sum(), 1)
    return table, people


# ------------------------------------------------------------------------------------------------- tracking
def write_predictions(seq: str, tracked: list, out_dir: Path, joint_threshold: float) -> None:
    write_tracked(tracked, out_dir / f"{seq}.json", joint_threshold=joint_threshold)


def run_rows(data: Path, seqs: list[str], detector_name: str, detector_spec, propagate: bool, parts: dict,
             full: bool, pred_root: Path) -> list[dict]:
    """The four similarity rows of one detector / propagation setting; returns one result dict per row."""
    rows = []
    base = {"pose_estimator": parts["pose"], "layout": parts["layout"], "flow_estimator": parts["flow"]}
    order = ("multi_flow_oks",) + tuple(s for s in SIMILARITIES if s != "multi_flow_oks")
    reference: dict[str, list] = {}
    for similarity in order:
        label = f"{detector_name}-{'prop' if propagate else 'noprop'}-{similarity}"
        out_dir = pred_root / label
        out_dir.mkdir(parents=True)
        tic = time.perf_counter()
        frames = 0
        for seq in seqs:
            images = data / "images" / seq
            if full or similarity == "multi_flow_oks":
                tracked = list(track(images, "default", detector=detector_spec(seq), flow={"propagate": propagate},
                                     association={"similarity": similarity}, **base))
                if similarity == "multi_flow_oks":
                    reference[seq] = tracked
            else:   # tracking-only mode on the poses of the full run
                given = [t.poses for t in reference[seq]]
                tracked = list(track(images, "default", poses=given, layout=POSETRACK18.name,
                                     flow_estimator=parts["flow"], association={"similarity": similarity}))
            frames += len(tracked)
            write_predictions(seq, tracked, out_dir, parts["joint_threshold"])
        seconds = time.perf_counter() - tic
        if not full and similarity == "multi_flow_oks":   # the re-association must reproduce the full run
            seq = seqs[0]
            again = list(track(data / "images" / seq, "default", poses=[t.poses for t in reference[seq]],
                               layout=POSETRACK18.name, flow_estimator=parts["flow"],
                               association={"similarity": similarity}))
            same = all(np.array_equal(a.track_ids, b.track_ids) for a, b in zip(again, reference[seq]))
            if not same:
                raise RuntimeError("tracking-only re-association differs from the full run; use --full")
        result = evaluate(data / "annotations", out_dir)
        rows.append({"detector": detector_name, "propagate": propagate, "similarity": similarity,
                     "mAP": result["ap"]["total"], "MOTA": result["mota"]["total"],
                     "MOTP": result["motp"]["total"], "precision": result["precision"]["total"],
                     "recall": result["recall"]["total"], "seconds": seconds, "frames": frames})
        print(f"  {label}: mAP {rows[-1]['mAP']:.1f}  MOTA {rows[-1]['MOTA']:.1f}  ({seconds:.0f} s)", flush=True)
    return sorted(rows, key=lambda r: SIMILARITIES.index(r["similarity"]))


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    width, height = (int(v) for v in args.size.lower().split("x"))
    work = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="synthetic_tracking_"))
    if args.reentry:
        return run_reentry(args, work)
    data, pred_root = work / "data", work / "pred"
    if pred_root.exists():
        raise SystemExit(f"error: {pred_root} exists; pass an empty --out folder")
    tic = time.perf_counter()
    summary = syn.generate_dataset(data, args.videos, args.frames, args.seed, size=(width, height),
                                   write_videos=False, progress=False)
    seqs = sorted(p.stem for p in (data / "annotations").glob("*.json"))
    print(f"held-out set: {summary['videos']} videos x {args.frames} frames, {width}x{height}, seed {args.seed}, "
          f"{summary['people']} tracks ({time.perf_counter() - tic:.0f} s)  [{work}]")

    config = load_track_config("default", {"pose.model": args.pose_model, "pose.weights": args.weights,
                                           "flow.name": args.flow, "flow.preset": args.flow_preset})
    estimator, layout = build_pose_estimator(config, config.device)
    parts = {"pose": estimator, "layout": layout, "flow": build_flow_estimator(config, config.device),
             "joint_threshold": config.output.joint_score_threshold}

    tic = time.perf_counter()
    pck, people = pckh(data, estimator, args.pck_stride)
    print(f"\nPCKh@0.5 on ground-truth boxes ({people} people, every {args.pck_stride}. frame, flip test; "
          f"{time.perf_counter() - tic:.0f} s)")
    print("  " + "  ".join(f"{k:>5}" for k in pck))
    print("  " + "  ".join(f"{v:5.1f}" for v in pck.values()))

    detectors = [("gt-noise", lambda seq: f"file:{data / 'detections' / f'{seq}.json'}")]
    if args.yolox != "none" and Path(args.yolox).is_file():
        detectors.append(("yolox-nano", lambda seq: f"onnx:{args.yolox}"))
    elif args.yolox != "none":
        print(f"\n(no YOLOX rows: {args.yolox} is absent)")
    rows = []
    for name, spec in detectors:
        for propagate in (False, True):
            print(f"\n{name}, flow propagation {'on' if propagate else 'off'}:", flush=True)
            rows += run_rows(data, seqs, name, spec, propagate, parts, args.full, pred_root)

    print(f"\nFlowTrack ablation on synthetic videos ({args.videos} x {args.frames} frames, {args.flow} flow, "
          f"poseval total AP and MOTA, %)")
    header = f"{'detector':<11} {'flow prop':<9} {'similarity':<15} {'mAP':>5} {'MOTA':>6} {'MOTP':>5} " \
             f"{'Prec':>5} {'Rec':>5} {'fps':>5}"
    print(header)
    print("-" * len(header))
    for r in rows:
        fps = r["frames"] / max(r["seconds"], 1e-9)
        print(f"{r['detector']:<11} {'yes' if r['propagate'] else 'no':<9} {r['similarity']:<15} {r['mAP']:5.1f} "
              f"{r['MOTA']:6.1f} {r['MOTP']:5.1f} {r['precision']:5.1f} {r['recall']:5.1f} {fps:5.1f}")
    if not args.full:
        print("fps: frames per second of the row's own run; without --full only the multi_flow_oks rows run the "
              "whole pipeline, the others only re-associate its poses")
    if args.json:
        Path(args.json).write_text(json.dumps({"pckh": pck, "pck_people": people, "rows": rows}, indent=1))
    if not args.out:
        shutil.rmtree(work, ignore_errors=True)
    return 0



# ------------------------------------------------------------------------------------------------------ re-entry
# Re-entry: ids that survive leaving the view and occlusion. ``--reentry`` runs this section instead of the FlowTrack
# ablation: hard scenes (pose.data.synthetic.hard: exits and returns after 1-5 s, 1-3 s behind posts, alike
# clothing), the synthetic HRNet on the generator's noisy detections, and motmetrics' MOTA, IDF1 and id switches
# (a prediction matches a ground-truth person when their OKS over the person's visible joints is at least 0.5).
REENTRY_ROWS = (
    ("IoU greedy", {"similarity": "box_iou", "lost_seconds": 0}),
    ("FlowTrack (multi flow OKS)", {"lost_seconds": 0}),
    ("+ re-entry: motion", {"reentry_motion": True, "reentry_shape": False, "reentry_colour": False}),
    ("+ pose shape", {"reentry_motion": True, "reentry_shape": True, "reentry_colour": False}),
    ("+ colour", {"reentry_motion": True, "reentry_shape": True, "reentry_colour": True}),
)
MOT_MIN_OKS = 0.5


def read_truth(annotation_file: Path) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per frame of a PoseTrack ground-truth file: track ids (M,), keypoints (M, 17, 3) (visible = 1), areas (M,)."""
    gt = json.loads(annotation_file.read_text())
    by_image: dict = {}
    for a in gt["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    frames = []
    for image in gt["images"]:
        anns = by_image.get(image["id"], [])
        ids = np.array([a["track_id"] for a in anns], np.int64)
        kps = np.array([a["keypoints"] for a in anns], np.float64).reshape(-1, 17, 3)
        areas = np.array([a["bbox"][2] * a["bbox"][3] for a in anns], np.float64)
        frames.append((ids, kps, areas))
    return frames


def mot_accumulator(truth: list, tracked: list):
    """A motmetrics accumulator of one video: distance 1 - OKS, pairs below OKS 0.5 not matchable."""
    import motmetrics as mm

    from pose.similarity import oks_matrix

    acc = mm.MOTAccumulator(auto_id=True)
    for (gt_ids, gt_kps, areas), frame in zip(truth, tracked):
        pred = np.concatenate([frame.poses.keypoints, np.ones((len(frame.poses), 17, 1))], axis=2)
        distance = np.full((len(gt_ids), len(pred)), np.nan)
        if len(gt_ids) and len(pred):
            oks = np.stack([oks_matrix(pred, gt_kps[m:m + 1], np.full(len(pred), area), [area], POSETRACK18.sigmas,
                                       in_vis_thre=0.5)[:, 0] for m, area in enumerate(areas)])   # (M, N), GT area
            distance = np.where(oks >= MOT_MIN_OKS, 1 - oks, np.nan)
        acc.update(gt_ids.tolist(), frame.track_ids.tolist(), distance)
    return acc


def mot_scores(accumulators: list, names: list[str]) -> dict:
    """MOTA and IDF1 (percent) and id switches over all videos together."""
    import motmetrics as mm

    summary = mm.metrics.create().compute_many(accumulators, names=names, metrics=["mota", "idf1", "num_switches"],
                                               generate_overall=True)
    overall = summary.loc["OVERALL"]
    return {"MOTA": 100 * float(overall["mota"]), "IDF1": 100 * float(overall["idf1"]),
            "switches": int(overall["num_switches"])}


def reentry_ablation(args, parts: dict, work: Path) -> list[dict]:
    """The re-entry rows on hard scenes; poses from one full run per video, re-associated per row (tracking-only
    mode on the same frames, so flow and colour are there)."""
    from pose.data.synthetic.hard import generate_hard_dataset

    data = work / "hard"
    tic = time.perf_counter()
    summary = generate_hard_dataset(data, args.hard_videos, args.hard_frames, args.seed, write_videos=False,
                                    progress=False)
    seqs = sorted(p.stem for p in (data / "annotations").glob("*.json"))
    print(f"hard set: {summary['videos']} videos x {args.hard_frames} frames (25 fps), seed {args.seed}, "
          f"{summary['people']} people ({time.perf_counter() - tic:.0f} s)  [{data}]", flush=True)
    base = {"pose_estimator": parts["pose"], "layout": parts["layout"], "flow_estimator": parts["flow"]}
    poses, truths = {}, {}
    tic = time.perf_counter()
    for seq in seqs:
        tracked = track(data / "images" / seq, "default", detector=f"file:{data / 'detections' / f'{seq}.json'}",
                        association={"lost_seconds": 0}, **base)
        poses[seq] = [t.poses for t in tracked]
        truths[seq] = read_truth(data / "annotations" / f"{seq}.json")
    print(f"poses: synthetic HRNet on the noisy detections ({time.perf_counter() - tic:.0f} s)", flush=True)
    rows = []
    for label, keys in REENTRY_ROWS:
        association = {"lost_seconds": args.lost_seconds, **keys}
        accumulators = []
        for seq in seqs:
            tracked = list(track(data / "images" / seq, "default", poses=poses[seq], layout=POSETRACK18.name,
                                 flow_estimator=parts["flow"], association=association))
            accumulators.append(mot_accumulator(truths[seq], tracked))
        rows.append({"row": label, **mot_scores(accumulators, seqs)})
        print(f"  {label}: MOTA {rows[-1]['MOTA']:.1f}  IDF1 {rows[-1]['IDF1']:.1f}  "
              f"switches {rows[-1]['switches']}", flush=True)
    print(f"\nRe-entry ablation on hard synthetic videos ({len(seqs)} x {args.hard_frames} frames, lost_seconds "
          f"{args.lost_seconds}, motmetrics, OKS >= {MOT_MIN_OKS} to match)")
    header = f"{'row':<28} {'MOTA':>6} {'IDF1':>6} {'ID sw.':>6}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['row']:<28} {r['MOTA']:6.1f} {r['IDF1']:6.1f} {r['switches']:6d}")
    return rows


def run_reentry(args, work: Path) -> int:
    config = load_track_config("default", {"pose.model": args.pose_model, "pose.weights": args.weights,
                                           "flow.name": args.flow, "flow.preset": args.flow_preset})
    estimator, layout = build_pose_estimator(config, config.device)
    parts = {"pose": estimator, "layout": layout, "flow": build_flow_estimator(config, config.device)}
    rows = reentry_ablation(args, parts, work)
    if args.json:
        Path(args.json).write_text(json.dumps({"reentry": rows}, indent=1))
    if not args.out:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
