"""Steadier joints: joint error and jitter raw vs One-Euro vs Savitzky-Golay, AP / MOTA unchanged, real-clip jitter.

    python benchmarks/smoothing.py --out DIR                          # 3 synthetic videos x 100 frames + real clips
    python benchmarks/smoothing.py --out DIR --real-pose-model movenet_thunder \\
        --real-pose-weights ../shared/data/models/movenet_thunder.onnx

1. Synthetic videos (``pose.data.synthetic``, 25 fps, exact ground truth), the shipped synthetic HRNet on the
   generator's noisy detections, one run with ``smoothing.online: on``: each ``TrackedFrame`` has the One-Euro
   keypoints and the raw ones (``raw_keypoints``); Savitzky-Golay (``tracker.smoothing.savgol_tracks``) runs on
   the raw tracks afterwards. Predictions are matched to the ground-truth people per frame (OKS >= 0.5, Hungarian,
   on the raw keypoints, the same pairs for every variant). **Error**: mean distance in pixels over the joints
   visible in the ground truth and predicted above the output threshold. **Jitter**: mean |x[t+1] - 2 x[t] + x[t-1]|
   (pixels per frame squared) over every track's joints present in three consecutive frames; the ground truth's own
   jitter (real motion) is printed as the floor. AP and MOTA: ``tracker.evaluate`` (poseval) of each variant.
2. Real clips (``../shared/data/videos``): jitter raw vs One-Euro vs Savitzky-Golay (no ground truth), with the pose
   model given (default: the synthetic HRNet, which is not trained on real people) and YOLOX-nano boxes.
3. Figures in ``--out``: ``smoothing_synthetic.png`` (bars), ``smoothing_trace.png`` (one joint over time),
   ``smoothing_real_<clip>.png`` (a real frame with every joint's last 12 positions, raw left, One-Euro right).
"""
from __future__ import annotations

import argparse
import os
import json
import sys
from dataclasses import replace
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
from tracker.smoothing import savgol_tracks  # noqa: E402
from tracker.types import Poses  # noqa: E402

SHARED = Path(os.environ.get("POSETRACK_SHARED", REPO.parent / "shared")) / "data"  # as the tests
REAL_CLIPS = ("vtest.avi", "mmaction2_demo_skeleton.mp4", "mmaction2_test_video_structuralize.mp4")
VARIANTS = ("raw", "one-euro", "savgol")
COLOURS = {"raw": (40, 40, 220), "one-euro": (40, 170, 40), "savgol": (200, 120, 30), "truth": (20, 20, 20)}  # BGR


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="folder for the data, predictions and figures")
    p.add_argument("--videos", type=int, default=3)
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--real-frames", type=int, default=60, help="frames of each real clip")
    p.add_argument("--real-pose-model", default="hrnet_synthetic")
    p.add_argument("--real-pose-weights", default="hrnet_synthetic")
    p.add_argument("--detector", default=f"onnx:{SHARED / 'models' / 'yolox_nano.onnx'}",
                   help="detector of the real clips")
    p.add_argument("--threads", type=int, default=0)
    return p.parse_args(argv)


def variants(tracked: list, config) -> dict[str, list]:
    """The raw, One-Euro and Savitzky-Golay versions of one smoothed run's frames."""
    raw = [replace(t, poses=Poses(t.raw_keypoints, t.poses.scores, t.poses.boxes, t.poses.box_scores),
                   raw_keypoints=None) for t in tracked]
    s = config.smoothing
    return {"raw": raw, "one-euro": tracked,
            "savgol": savgol_tracks(raw, s.window, s.order, config.output.joint_score_threshold)}


def jitter(frames: list, threshold: float) -> float:
    """Mean second difference (px / frame^2) over each track's joints present in three consecutive frames."""
    values = []
    by_id = [dict(zip(f.track_ids.tolist(), range(len(f.track_ids)))) for f in frames]
    for t in range(1, len(frames) - 1):
        for tid, n in by_id[t].items():
            if tid not in by_id[t - 1] or tid not in by_id[t + 1]:
                continue
            a, b = by_id[t - 1][tid], by_id[t + 1][tid]
            trio = [(frames[t - 1], a), (frames[t], n), (frames[t + 1], b)]
            ok = np.all([f.poses.scores[i] >= threshold for f, i in trio], axis=0)
            acc = trio[2][0].poses.keypoints[b] - 2 * frames[t].poses.keypoints[n] + trio[0][0].poses.keypoints[a]
            values += np.linalg.norm(acc[ok], axis=1).tolist()
    return float(np.mean(values)) if values else float("nan")


def truth_frames(annotation_file: Path) -> list[dict]:
    """Per frame {track id: (keypoints (17, 2), visible (17,))} of a ground-truth file."""
    gt = json.loads(annotation_file.read_text())
    frames = {image["id"]: {} for image in gt["images"]}
    for a in gt["annotations"]:
        kp = np.array(a["keypoints"], float).reshape(17, 3)
        frames[a["image_id"]][a["track_id"]] = (kp[:, :2], kp[:, 2] > 0, a["bbox"][2] * a["bbox"][3])
    return list(frames.values())


def matches(truth: list[dict], raw: list) -> list[list[tuple[int, int]]]:
    """Per frame (ground-truth track id, prediction index) pairs: OKS >= 0.5, Hungarian, on raw keypoints."""
    from scipy.optimize import linear_sum_assignment

    from pose.similarity import oks_matrix

    out = []
    for people, frame in zip(truth, raw):
        ids = list(people)
        if not ids or not len(frame.poses):
            out.append([])
            continue
        pred = np.concatenate([frame.poses.keypoints, np.ones((len(frame.poses), 17, 1))], axis=2)
        oks = np.stack([oks_matrix(pred, np.concatenate([people[i][0], people[i][1][:, None]], 1)[None],
                                   np.full(len(pred), people[i][2]), [people[i][2]], POSETRACK18.sigmas,
                                   in_vis_thre=0.5)[:, 0] for i in ids])
        r, c = linear_sum_assignment(-oks)
        out.append([(ids[i], j) for i, j in zip(r, c) if oks[i, j] >= 0.5])
    return out


def error(truth: list[dict], frames: list, pairs: list, threshold: float) -> float:
    values = []
    for people, frame, frame_pairs in zip(truth, frames, pairs):
        for tid, j in frame_pairs:
            kp, visible, _ = people[tid]
            ok = visible & (frame.poses.scores[j] >= threshold)
            values += np.linalg.norm(frame.poses.keypoints[j][ok] - kp[ok], axis=1).tolist()
    return float(np.mean(values))


def truth_jitter(truth: list[dict]) -> float:
    values = []
    for t in range(1, len(truth) - 1):
        for tid, (kp, vis, _) in truth[t].items():
            if tid in truth[t - 1] and tid in truth[t + 1]:
                ok = vis & truth[t - 1][tid][1] & truth[t + 1][tid][1]
                acc = truth[t + 1][tid][0] - 2 * kp + truth[t - 1][tid][0]
                values += np.linalg.norm(acc[ok], axis=1).tolist()
    return float(np.mean(values))


def write_predictions(frames: list, seq: str, folder: Path, threshold: float) -> None:
    write_tracked(frames, folder / f"{seq}.json", joint_threshold=threshold)


# ------------------------------------------------------------------------------------------------------ figures
def bar_figure(path: Path, groups: dict[str, dict[str, float]], floor: float | None) -> None:
    """Grouped bars drawn with OpenCV: one panel per metric, one bar per variant, values printed."""
    panel_w, height = 330, 300
    image = np.full((height, panel_w * len(groups), 3), 255, np.uint8)
    for p, (metric, values) in enumerate(groups.items()):
        x0 = p * panel_w
        top = max(values.values()) * 1.15
        cv2.putText(image, metric, (x0 + 15, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
        for i, (name, value) in enumerate(values.items()):
            bx = x0 + 30 + i * 95
            bar_h = int((height - 80) * value / top)
            cv2.rectangle(image, (bx, height - 40 - bar_h), (bx + 70, height - 40), COLOURS[name], -1)
            cv2.putText(image, f"{value:.2f}", (bx + 5, height - 46 - bar_h), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                        (0, 0, 0), 1, cv2.LINE_AA)
            cv2.putText(image, name, (bx, height - 20), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        if floor is not None and metric.startswith("jitter"):
            fy = height - 40 - int((height - 80) * floor / top)
            cv2.line(image, (x0 + 20, fy), (x0 + panel_w - 20, fy), COLOURS["truth"], 1, cv2.LINE_AA)
            cv2.putText(image, f"ground truth {floor:.2f}", (x0 + 150, fy - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                        COLOURS["truth"], 1, cv2.LINE_AA)
    cv2.imwrite(str(path), image)


def trace_figure(path: Path, series: dict[str, np.ndarray], title: str) -> None:
    """Line plot of several (T,) series (nan = absent) drawn with OpenCV."""
    w, h, m = 900, 320, 40
    image = np.full((h, w, 3), 255, np.uint8)
    every = np.concatenate([s[np.isfinite(s)] for s in series.values()])
    lo, hi = every.min() - 2, every.max() + 2
    t_max = max(len(s) for s in series.values()) - 1
    for name, s in series.items():
        pts = [(m + int((w - 2 * m) * t / t_max), h - m - int((h - 2 * m) * (v - lo) / (hi - lo)))
               for t, v in enumerate(s) if np.isfinite(v)]
        cv2.polylines(image, [np.array(pts, np.int32)], False, COLOURS[name], 2 if name == "truth" else 1,
                      cv2.LINE_AA)
    cv2.putText(image, title, (m, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    for i, name in enumerate(series):
        cv2.putText(image, name, (w - 150, 45 + 18 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.5, COLOURS[name], 1, cv2.LINE_AA)
    cv2.putText(image, f"x (px), {lo:.0f}..{hi:.0f}; frames 0..{t_max}", (m, h - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                (0, 0, 0), 1, cv2.LINE_AA)
    cv2.imwrite(str(path), image)


def trails_figure(path: Path, image_rgb: np.ndarray, versions: dict[str, list], threshold: float,
                  length: int = 12) -> None:
    """The last frame with each joint's last ``length`` positions per track: one panel per version."""
    panels = []
    for name, frames in versions.items():
        canvas = np.ascontiguousarray(image_rgb[:, :, ::-1])
        last = frames[-length:]
        for tid in set(last[-1].track_ids.tolist()):
            for j in range(17):
                pts = [f.poses.keypoints[list(f.track_ids).index(tid), j] for f in last
                       if tid in f.track_ids and f.poses.scores[list(f.track_ids).index(tid), j] >= threshold]
                if len(pts) > 1:
                    cv2.polylines(canvas, [np.round(np.array(pts)).astype(np.int32)], False, COLOURS[name], 2,
                                  cv2.LINE_AA)
        cv2.putText(canvas, f"{name}: last {length} frames", (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255),
                    2, cv2.LINE_AA)
        panels.append(canvas)
    cv2.imwrite(str(path), np.concatenate(panels, axis=1))


# ------------------------------------------------------------------------------------------------------- main
def synthetic_part(args, out: Path, parts: dict, config) -> dict:
    data = out / "synthetic"
    syn.generate_dataset(data, args.videos, args.frames, args.seed, write_videos=False, progress=False)
    seqs = sorted(p.stem for p in (data / "annotations").glob("*.json"))
    threshold = config.output.joint_score_threshold
    sums = {v: {"error": [], "jitter": []} for v in VARIANTS}
    floors, trace = [], None
    for v in VARIANTS:
        (out / "pred" / v).mkdir(parents=True, exist_ok=True)
    for seq in seqs:
        tracked = list(track(data / "images" / seq, "default", detector=f"file:{data / 'detections' / f'{seq}.json'}",
                             smoothing={"online": "on"}, **parts))
        versions = variants(tracked, config)
        truth = truth_frames(data / "annotations" / f"{seq}.json")
        pairs = matches(truth, versions["raw"])
        floors.append(truth_jitter(truth))
        for v, frames in versions.items():
            sums[v]["error"].append(error(truth, frames, pairs, threshold))
            sums[v]["jitter"].append(jitter(frames, threshold))
            write_predictions(frames, seq, out / "pred" / v, threshold)
        if trace is None:   # the left wrist of the ground-truth person matched longest, over the video
            counts: dict = {}
            for frame_pairs in pairs:
                for tid, _ in frame_pairs:
                    counts[tid] = counts.get(tid, 0) + 1
            person = max(counts, key=counts.get)
            joint = POSETRACK18.joints.index("left_wrist")
            trace = {"truth": np.array([p[person][0][joint, 0] if person in p and p[person][1][joint] else np.nan
                                        for p in truth])}
            for v, frames in versions.items():
                trace[v] = np.array([next((f.poses.keypoints[j, joint, 0] for tid, j in fp if tid == person
                                           and f.poses.scores[j, joint] >= threshold), np.nan)
                                     for f, fp in zip(frames, pairs)])
            trace_figure(out / "smoothing_trace.png", trace, f"{seq}: left wrist x of ground-truth person {person}")
    rows = {}
    for v in VARIANTS:
        result = evaluate(data / "annotations", out / "pred" / v)
        rows[v] = {"error": float(np.mean(sums[v]["error"])), "jitter": float(np.mean(sums[v]["jitter"])),
                   "AP": result["ap"]["total"], "MOTA": result["mota"]["total"]}
    floor = float(np.mean(floors))
    print(f"\nSynthetic ({args.videos} x {args.frames} frames, 25 fps, seed {args.seed}; One-Euro min_cutoff "
          f"{config.smoothing.min_cutoff} Hz, beta {config.smoothing.beta}; Savitzky-Golay window "
          f"{config.smoothing.window}, order {config.smoothing.order})")
    print(f"{'variant':<10} {'error px':>9} {'jitter px/f^2':>14} {'AP':>6} {'MOTA':>6}")
    for v, r in rows.items():
        print(f"{v:<10} {r['error']:9.2f} {r['jitter']:14.2f} {r['AP']:6.1f} {r['MOTA']:6.1f}")
    print(f"{'truth':<10} {'':>9} {floor:14.2f}   (the ground truth's own jitter: real motion)")
    bar_figure(out / "smoothing_synthetic.png", {"mean joint error (px)": {v: r["error"] for v, r in rows.items()},
                                                  "jitter (px / frame^2)": {v: r["jitter"] for v, r in rows.items()}},
               floor)
    return {"rows": rows, "truth_jitter": floor}


def real_part(args, out: Path, config) -> dict:
    from tracker.video import open_source

    real_config = load_track_config("default", {"pose.model": args.real_pose_model,
                                                "pose.weights": args.real_pose_weights})
    estimator, layout = build_pose_estimator(real_config, real_config.device)
    parts = {"pose_estimator": estimator, "layout": layout,
             "flow_estimator": build_flow_estimator(real_config, real_config.device)}
    threshold = config.output.joint_score_threshold
    results = {}
    print(f"\nReal clips ({args.real_pose_model}, {args.detector.split(':')[0]} boxes, first {args.real_frames} frames): "
          f"jitter px / frame^2")
    print(f"{'clip':<42} {'fps':>5} {'raw':>7} {'one-euro':>9} {'savgol':>7}")
    for clip in REAL_CLIPS:
        path = SHARED / "videos" / clip
        if not path.is_file():
            print(f"{clip:<42} absent")
            continue
        fps = open_source(path).info.fps
        tracked = list(track(path, "default", detector=args.detector, max_frames=args.real_frames,
                             smoothing={"online": "on"}, pose={"model": args.real_pose_model}, **parts))
        versions = variants(tracked, config)
        results[clip] = {v: jitter(frames, threshold) for v, frames in versions.items()}
        r = results[clip]
        print(f"{clip:<42} {fps:5.1f} {r['raw']:7.2f} {r['one-euro']:9.2f} {r['savgol']:7.2f}")
        last = None
        for frame in open_source(path, args.real_frames):
            last = frame.image
        trails_figure(out / f"smoothing_real_{Path(clip).stem}.png", last,
                      {"raw": versions["raw"], "one-euro": versions["one-euro"]}, threshold)
    return results


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = load_track_config("default", {"pose.model": "hrnet_synthetic", "pose.weights": "hrnet_synthetic"})
    estimator, layout = build_pose_estimator(config, config.device)
    parts = {"pose_estimator": estimator, "layout": layout,
             "flow_estimator": build_flow_estimator(config, config.device)}
    summary = {"synthetic": synthetic_part(args, out, parts, config), "real": real_part(args, out, config)}
    (out / "smoothing.json").write_text(json.dumps(summary, indent=1))
    print(f"\nfigures and smoothing.json in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
