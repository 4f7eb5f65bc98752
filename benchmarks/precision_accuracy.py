"""Accuracy of each inference precision and runtime against fp32: keypoints, PCKh, mAP, MOTA; MoveNet on COCO.

    python benchmarks/precision_accuracy.py                       # 4 held-out synthetic videos x 40 frames
    python benchmarks/precision_accuracy.py --cases fp32:pytorch,int8:openvino --videos 2

1. A held-out synthetic set (``pose.data.synthetic``, seed 7: the shipped ``hrnet_synthetic`` weights trained on
   seed 1) with noisy ground-truth detections, as ``benchmarks/synthetic_tracking.py`` makes it.
2. For every case ``PRECISION:RUNTIME`` the shipped model runs through ``pose.runtime_choice`` (int8: calibrated on
   synthetic crops of another seed plus the real people of ``../shared/data/posetrack18`` and ``mpii`` when
   present; never on the evaluation data): PCKh@0.5 on ground-truth boxes (poseval's head size), then the whole
   tracker (detections file, DIS flow, propagation, multi-frame flow OKS) scored by ``tracker.evaluate``: total
   AP and MOTA. Keypoint shift: distance of each joint to the fp32 PyTorch joint on the same ground-truth box,
   median and 95th percentile in image pixels.
3. MoveNet Thunder (``../shared/data/models/movenet_thunder.onnx``) fp32 and int8 on the people of
   ``../shared/data/coco`` from their ground-truth boxes: mean OKS against the ground truth
   (``pose.gt_box_oks``).

Targets: PCKh, mAP and MOTA at most 0.3 below fp32 for bf16 / fp16, at most 1.0 below for int8. A case
the device cannot run natively is skipped with one line (``pose.precision``). Not a test: the figures go into
the README.
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

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from pose.precision import PrecisionError, cpu_abilities  # noqa: E402

SHARED = Path(os.environ.get("POSETRACK_SHARED", REPO.parent / "shared")) / "data"  # as the tests
DEFAULT_CASES = ("fp32:pytorch,fp32:onnxruntime,fp32:openvino,bf16:pytorch,bf16:openvino,fp16:pytorch,"
                 "fp16:openvino,int8:onnxruntime,int8:openvino")
TARGETS = {"fp32": 0.0, "bf16": 0.3, "fp16": 0.3, "int8": 1.0}      # largest drop vs fp32 allowed (points)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--videos", type=int, default=4)
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--seed", type=int, default=7, help="held-out seed (the shipped weights trained on seed 1)")
    p.add_argument("--cases", default=DEFAULT_CASES, help="comma-separated PRECISION:RUNTIME, fp32:pytorch first")
    p.add_argument("--pck-stride", type=int, default=2)
    p.add_argument("--movenet", default=str(SHARED / "models" / "movenet_thunder.onnx"),
                   help="MoveNet Thunder .onnx for the COCO rows; 'none' to skip")
    p.add_argument("--json", help="also write the results here")
    return p.parse_args(argv)


class Recorder:
    """An estimator that keeps every keypoint array it returns (to compare two precisions joint by joint)."""

    def __init__(self, estimator):
        self.estimator, self.keypoints = estimator, []

    def __call__(self, image, boxes):
        keypoints, scores = self.estimator(image, boxes)
        self.keypoints.append(keypoints)
        return keypoints, scores


def real_people() -> list[tuple[np.ndarray, np.ndarray]]:
    """(RGB image, person boxes xyxy) of the real PoseTrack18 and MPII samples in ../shared (calibration only)."""
    import cv2

    people = []
    posetrack = SHARED / "posetrack18" / "annotations" / "test_posetrack18_val.json"
    if posetrack.is_file():
        data = json.loads(posetrack.read_text())
        for image in data["images"]:
            boxes = [a["bbox"] for a in data["annotations"] if a["image_id"] == image["id"] and a.get("bbox")]
            bgr = cv2.imread(str(SHARED / "posetrack18" / image["file_name"]))
            if boxes and bgr is not None:
                xyxy = np.array([[x, y, x + w, y + h] for x, y, w, h in boxes], np.float64)
                people.append((cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), xyxy))
    mpii = SHARED / "mpii" / "test_mpii.json"
    if mpii.is_file():
        for entry in json.loads(mpii.read_text()):
            bgr = cv2.imread(str(SHARED / "mpii" / entry["image"]))
            if bgr is not None:   # MPII's scale is the person's height / 200 px around its center
                (cx, cy), half = entry["center"], 100.0 * entry["scale"]
                people.append((cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB),
                               np.array([[cx - 0.4 * half, cy - half, cx + 0.4 * half, cy + half]])))
    return people


def real_crops(config, people) -> np.ndarray | None:
    from pose.quantize import config_crops

    crops = [config_crops(image, boxes, config) for image, boxes in people]
    return np.concatenate(crops) if crops else None


def synthetic_rows(args, cases, work: Path, people) -> list[dict]:
    import pose
    from pose.config import load_config
    from pose.data import synthetic as syn
    from pose.inference import TopDownPoseEstimator
    from pose.runtime_choice import load_precision_runner
    from synthetic_tracking import pckh, write_predictions
    from tracker.config import load_track_config
    from tracker.evaluate import evaluate
    from tracker.components import build_flow_estimator
    from tracker.pipeline import track

    data = work / "data"
    tic = time.perf_counter()
    summary = syn.generate_dataset(data, args.videos, args.frames, args.seed, write_videos=False, progress=False)
    seqs = sorted(p.stem for p in (data / "annotations").glob("*.json"))
    print(f"held-out set: {summary['videos']} videos x {args.frames} frames, seed {args.seed}, {summary['people']} "
          f"tracks ({time.perf_counter() - tic:.0f} s)", flush=True)
    config = load_config("hrnet_synthetic")
    model = pose.build_model(config, weights="hrnet_synthetic")
    track_config = load_track_config("default")
    flow = build_flow_estimator(track_config, "cpu")
    calibration = real_crops(config, people)
    rows, reference = [], None
    for precision, runtime in cases:
        tic = time.perf_counter()
        try:
            runner, choice = load_precision_runner(config, device="cpu", precision=precision, runtime=runtime,
                                                   model=model, cache_dir=work / "cache", calibration=calibration)
        except PrecisionError as error:
            print(f"  {precision}:{runtime}: skipped ({error})", flush=True)
            continue
        build = time.perf_counter() - tic
        estimator = Recorder(TopDownPoseEstimator(runner, config))
        pck, people_count = pckh(data, estimator, args.pck_stride)
        keypoints = np.concatenate(estimator.keypoints)
        out_dir = work / "pred" / f"{precision}-{runtime}"
        out_dir.mkdir(parents=True)
        tic = time.perf_counter()
        frames = 0
        for seq in seqs:
            tracked = list(track(data / "images" / seq, track_config, pose_estimator=estimator.estimator,
                                 layout="posetrack18", flow_estimator=flow,
                                 detector=f"file:{data / 'detections' / f'{seq}.json'}"))
            frames += len(tracked)
            write_predictions(seq, tracked, out_dir, track_config.output.joint_score_threshold)
        seconds = time.perf_counter() - tic
        result = evaluate(data / "annotations", out_dir)
        row = {"precision": precision, "runtime": runtime, "runner": runner.name, "PCKh": pck["Total"],
               "mAP": result["ap"]["total"], "MOTA": result["mota"]["total"], "people": people_count,
               "build_s": build, "track_fps": frames / seconds}
        if reference is None:
            reference = keypoints
        shift = np.linalg.norm(keypoints - reference, axis=-1).ravel()
        row.update(shift_median=float(np.median(shift)), shift_p95=float(np.percentile(shift, 95)))
        rows.append(row)
        print(f"  {precision}:{runtime}: PCKh {row['PCKh']:.2f}  mAP {row['mAP']:.2f}  MOTA {row['MOTA']:.2f}  "
              f"shift median {row['shift_median']:.2f} p95 {row['shift_p95']:.2f} px  (build {build:.0f} s)",
              flush=True)
    return rows


def movenet_rows(path: Path, work: Path, people) -> list[dict]:
    from pose.config import load_config
    from pose.gt_box_oks import ground_truth_box_oks
    from pose.inference import TopDownPoseEstimator
    from pose.runtime_choice import load_precision_runner

    config = load_config("movenet_thunder")
    calibration = real_crops(config, people)
    rows = []
    for precision, runtime in (("fp32", "onnxruntime"), ("fp32", "openvino"), ("int8", "onnxruntime"),
                               ("int8", "openvino")):
        try:
            runner, _ = load_precision_runner(config, path, "cpu", precision, runtime, cache_dir=work / "cache",
                                              calibration=calibration)
        except PrecisionError as error:
            print(f"  MoveNet {precision}:{runtime}: skipped ({error})", flush=True)
            continue
        estimator = TopDownPoseEstimator(runner, config)
        oks = [p.oks for p in ground_truth_box_oks(estimator, SHARED / "coco" / "test_coco.json", SHARED / "coco")]
        rows.append({"precision": precision, "runtime": runtime, "mean_oks": float(np.mean(oks)),
                     "people": len(oks), "above_0.9": int(np.sum(np.array(oks) > 0.9))})
        print(f"  MoveNet {precision}:{runtime}: mean OKS {rows[-1]['mean_oks']:.4f} over {len(oks)} people "
              f"({rows[-1]['above_0.9']} above 0.9)", flush=True)
    return rows


def main(argv=None) -> int:
    args = parse_args(argv)
    cases = [tuple(c.strip().split(":")) for c in args.cases.split(",") if c.strip()]
    if any(len(c) != 2 for c in cases) or cases[0] != ("fp32", "pytorch"):
        print("error: --cases must be PRECISION:RUNTIME items, the first fp32:pytorch (the reference)",
              file=sys.stderr)
        return 2
    print(cpu_abilities().description)
    work = Path(tempfile.mkdtemp(prefix="precision_accuracy_"))
    try:
        people = real_people()
        print(f"real calibration people: {sum(len(b) for _, b in people)} (../shared posetrack18 + mpii)")
        rows = synthetic_rows(args, cases, work, people)
        movenet = []
        if args.movenet != "none" and Path(args.movenet).is_file() and (SHARED / "coco").is_dir():
            movenet = movenet_rows(Path(args.movenet), work, people)
        elif args.movenet != "none":
            print(f"(no MoveNet rows: {args.movenet} or {SHARED / 'coco'} is absent)")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    base = rows[0]
    print(f"\nhrnet_synthetic on held-out synthetic videos ({args.videos} x {args.frames} frames, seed {args.seed}); "
          f"drops are fp32 PyTorch minus the row, in points")
    print(f"{'precision':<9} {'runtime':<11} {'PCKh':>6} {'mAP':>6} {'MOTA':>6} {'dPCKh':>6} {'dmAP':>6} "
          f"{'dMOTA':>6} {'shift med':>9} {'p95 px':>7} {'target':>6}")
    for r in rows:
        drops = [base[k] - r[k] for k in ("PCKh", "mAP", "MOTA")]
        verdict = "ok" if max(drops) <= TARGETS[r["precision"]] + 1e-9 else "MISSED"
        print(f"{r['precision']:<9} {r['runtime']:<11} {r['PCKh']:6.2f} {r['mAP']:6.2f} {r['MOTA']:6.2f} "
              f"{drops[0]:6.2f} {drops[1]:6.2f} {drops[2]:6.2f} {r['shift_median']:9.2f} {r['shift_p95']:7.2f} "
              f"{verdict:>6}")
    if movenet:
        print(f"\nMoveNet Thunder on ../shared/data/coco (ground-truth boxes): mean OKS")
        for r in movenet:
            print(f"{r['precision']:<9} {r['runtime']:<11} {r['mean_oks']:.4f}  ({r['above_0.9']}/{r['people']} "
                  f"above 0.9)")
    if args.json:
        Path(args.json).write_text(json.dumps({"synthetic": rows, "movenet": movenet}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
