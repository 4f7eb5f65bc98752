"""How long the PoseTrack evaluator takes against the official poseval: loading, cleanup + distances, AP, MOT
(and keypoint HOTA).

    python benchmarks/eval_speed.py [--sequences 170 --frames 100 --people 8] [--seed 0] [--poseval DIR]
                                    [--motmetrics] [--format 21]

Writes a synthetic split (default: 170 sequences, PoseTrack 2018 val's size) into a temporary folder through
``pose.data.posetrack``: people random-walking (17-joint skeletons with missing joints, head boxes, some unlabeled
frames), predictions = noisy joints with scores, missed people, false positives and identity switches. Then times
each stage of ``tracker.evaluate`` (keypoint HOTA, ``tracker.eval.hota``, too; ``--format 21`` writes and reads the
set as PoseTrack21 files) and the official tool on the same files:

- the official poseval (``python -m poseval.evaluate -g GT/ -p PRED/ -e -t``), when a checkout of it is found beside
  the project (``../poseval``, or ``--poseval DIR`` / ``$POSEVAL_DIR``): its wall time, and the largest difference
  between its per-joint and total AP / MOTA / MOTP and ours. The checkout is github.com/leonid-pishchulin/poseval's
  Python 3 package (the folder holding ``poseval/evaluate.py``; ``../shared/reference/poseval`` was made by commit
  4258a15), run by this Python, which needs motmetrics, shapely, click and tqdm;
- otherwise motmetrics as poseval drives it (one ``motmetrics.MOTAccumulator`` per joint per sequence, then
  ``metrics.compute``), on our cleaned-up frames: only poseval's tracking stage, so the printed ratio is a lower
  bound of the ratio to the whole official tool. Its counts are checked equal to ours.

The speed-up compares what poseval computes (load, cleanup, AP, MOT; not HOTA) in wall time, both measured in the
same run. ``--motmetrics`` runs the motmetrics stage even when poseval is found, and prints both ratios.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pose.data.posetrack import (FrameAnnotation, PersonAnnotation, PoseTrackSequence,  # noqa: E402
                                 posetrack_image_id, write_sequence)
from pose.keypoints import POSETRACK18  # noqa: E402
from pose.precision import cpu_summary  # noqa: E402
from tracker.eval import pt21  # noqa: E402
from tracker.eval.cli import compute_ap, compute_mot, load_sequences, prepare_sequences  # noqa: E402
from tracker.eval.data import NUM_JOINTS  # noqa: E402
from tracker.eval.mot import MOTCounts, frame_joint_inputs, sequence_counts, zero_counts  # noqa: E402

# A standing person in POSETRACK18 order, pixels relative to the hips' midpoint (ears unused: 0, 0, 0).
_TEMPLATE = {
    "nose": (0, -150), "head_bottom": (0, -125), "head_top": (0, -185),
    "left_shoulder": (22, -115), "right_shoulder": (-22, -115), "left_elbow": (30, -70),
    "right_elbow": (-30, -70), "left_wrist": (34, -30), "right_wrist": (-34, -30), "left_hip": (14, 0),
    "right_hip": (-14, 0), "left_knee": (16, 60), "right_knee": (-16, 60), "left_ankle": (17, 118),
    "right_ankle": (-17, 118),
}
TEMPLATE = np.array([_TEMPLATE.get(name, (0, 0)) for name in POSETRACK18.joints], np.float64)  # (17, 2)
REAL = np.array([name in _TEMPLATE for name in POSETRACK18.joints])


def make_sequence_pair(rng: np.random.Generator, video: int, num_frames: int, num_people: int):
    """One (ground truth, prediction) pair of PoseTrackSequence."""
    names = [f"images/val/{video:06d}_mpii_test/{t:06d}.jpg" for t in range(num_frames)]
    centers = rng.uniform([100, 250], [1180, 600], (num_people, 2))
    velocity = rng.normal(0, 3, (num_people, 2))
    pred_ids = np.arange(num_people)
    next_id = num_people
    labeled = rng.random(num_frames) < 0.8
    gt_frames, pred_frames = [], []
    for t, name in enumerate(names):
        velocity += rng.normal(0, 0.5, velocity.shape)
        centers += velocity
        if rng.random() < 0.05 and num_people > 1:  # identity switch between two predicted tracks
            a, b = rng.choice(num_people, 2, replace=False)
            pred_ids[[a, b]] = pred_ids[[b, a]]
        if rng.random() < 0.03:  # one track fragments into a new id
            pred_ids[rng.integers(num_people)] = next_id
            next_id += 1
        gt_people, pred_people = [], []
        for p in range(num_people):
            xy = centers[p] + TEMPLATE + rng.normal(0, 2, TEMPLATE.shape)
            present = REAL & (rng.random(17) < 0.92)
            kp = np.zeros((17, 3))
            kp[present, :2], kp[present, 2] = xy[present], 1
            head_top, head_bottom = xy[2], xy[1]
            head_box = np.array([head_top[0] - 20, head_top[1], head_bottom[0] + 20, head_bottom[1]])
            if labeled[t]:
                gt_people.append(PersonAnnotation(p, kp, None, head_box))
            if rng.random() < 0.1:  # missed person
                continue
            noise = rng.normal(0, 5, (17, 2)) * (1 + 4 * (rng.random((17, 1)) < 0.05))
            pkp = np.zeros((17, 3))
            pkp[REAL, :2], pkp[REAL, 2] = xy[REAL] + noise[REAL], 1
            scores = np.where(REAL, np.clip(1 - np.linalg.norm(noise, axis=1) / 40, 0.01, 1), 0)
            pred_people.append(PersonAnnotation(int(pred_ids[p]), pkp, scores + rng.random(17) * 1e-3))
        if rng.random() < 0.2:  # a false-positive person
            pkp = np.zeros((17, 3))
            pkp[REAL, :2] = rng.uniform([0, 0], [1280, 720]) + TEMPLATE[REAL]
            pkp[REAL, 2] = 1
            pred_people.append(PersonAnnotation(9000 + t, pkp, np.where(REAL, rng.random(17) * 0.5, 0)))
        image_id = posetrack_image_id(name)
        gt_frames.append(FrameAnnotation(name, image_id, bool(labeled[t]), gt_people))
        pred_frames.append(FrameAnnotation(name, image_id, True, pred_people))
    seq = f"{video:06d}_mpii_test"
    return PoseTrackSequence(seq, gt_frames), PoseTrackSequence(seq, pred_frames)


def motmetrics_counts(prepared) -> MOTCounts:
    """The official way: a motmetrics accumulator per joint per sequence, then metrics.compute."""
    import motmetrics as mm

    names = ["num_misses", "num_switches", "num_false_positives", "num_objects", "num_detections"]
    mh = mm.metrics.create()
    totals = np.zeros((len(names) + 1, NUM_JOINTS))
    with mm.lap.set_default_solver("scipy"):
        for seq in prepared:
            accs = [mm.MOTAccumulator(auto_id=True) for _ in range(NUM_JOINTS)]
            for frame, dist in zip(seq.frames[:-1], seq.dists[:-1]):
                for j, acc in enumerate(accs):
                    acc.update(*frame_joint_inputs(frame, dist, j))
            for j, acc in enumerate(accs):
                mid = mh.compute(acc, metrics=names, return_dataframe=False, name="acc")
                totals[:-1, j] += [mid[n] for n in names]
                totals[-1, j] += acc.events["D"].sum()
    misses, switches, fps, objects, detections, sum_d = totals
    return MOTCounts(misses, switches, fps, objects, detections - switches, sum_d)


def find_poseval(given: str | None) -> Path | None:
    """A checkout of the official poseval (a folder holding ``poseval/evaluate.py``), or None."""
    candidates = [given, os.environ.get("POSEVAL_DIR"), str(REPO.parent / "poseval")]
    for candidate in filter(None, candidates):
        if (Path(candidate) / "poseval" / "evaluate.py").is_file():
            return Path(candidate)
    return None


def run_poseval(checkout: Path, gt_dir: Path, pred_dir: Path, out_dir: Path) -> tuple[float, dict] | None:
    """Wall seconds of the official evaluator (AP and tracking) and its total_*_metrics.json contents; None (with
    one line saying why) when the checkout does not run."""
    command = [sys.executable, "-m", "poseval.evaluate", "-g", f"{gt_dir}/", "-p", f"{pred_dir}/", "-e", "-t",
               "-o", str(out_dir)]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=checkout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        print(f"the poseval checkout at {checkout} failed ({last}); comparing with motmetrics instead",
              file=sys.stderr)
        return None
    numbers = {}
    for name in ("total_AP_metrics.json", "total_MOT_metrics.json"):
        numbers.update(json.loads((out_dir / name).read_text()))
    return seconds, numbers


def largest_difference(official: dict, ap_res, mot_res) -> float:
    """Largest absolute difference between poseval's 16 numbers per metric (15 joints + total) and ours."""
    ours = {"ap": (ap_res.ap, ap_res.totals["ap"]), "mota": (mot_res.mota, mot_res.totals["mota"]),
            "motp": (mot_res.motp, mot_res.totals["motp"])}
    worst = 0.0
    for key, (per_joint, total) in ours.items():
        theirs = np.asarray(official[key], np.float64)
        mine = np.append(per_joint, total)
        both = ~(np.isnan(theirs) & np.isnan(mine))
        worst = max(worst, float(np.max(np.abs(theirs[both] - mine[both]), initial=0.0)))
    return worst


class Seconds(tuple):
    """(wall, cpu) seconds of a stage; CPU time (this process) is what a busy machine distorts least."""

    def __new__(cls, wall: float, cpu: float):
        return super().__new__(cls, (wall, cpu))

    wall = property(lambda self: self[0])
    cpu = property(lambda self: self[1])

    def __add__(self, other):
        return Seconds(self.wall + other.wall, self.cpu + other.cpu)

    def __sub__(self, other):
        return Seconds(self.wall - other.wall, self.cpu - other.cpu)


def clock() -> Seconds:
    return Seconds(time.perf_counter(), time.process_time())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sequences", type=int, default=170)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--people", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--poseval", help="a checkout of the official poseval (default: ../poseval, $POSEVAL_DIR)")
    ap.add_argument("--motmetrics", action="store_true", help="time the motmetrics stage even when poseval is found")
    ap.add_argument("--format", choices=("2018", "21"), default="2018",
                    help="file format of the generated set; 21: PoseTrack21 files, evaluated as the PoseTrack21 kit "
                         "frames them (the kit's mAP as AP, poseval's MOT on the same files)")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    checkout = find_poseval(args.poseval) if args.format == "2018" else None
    rows, extra = [], []
    with tempfile.TemporaryDirectory() as tmp:
        gt_dir, pred_dir = Path(tmp, "gt"), Path(tmp, "pred")
        gt_dir.mkdir()
        pred_dir.mkdir()
        t0 = clock()
        for v in range(args.sequences):
            gt, pred = make_sequence_pair(rng, 1000 + v, args.frames, args.people)
            write_sequence(gt, gt_dir / f"{gt.name}.json", args.format)
            write_sequence(pred, pred_dir / f"{pred.name}.json", args.format)
        generate = clock() - t0

        t0 = clock()
        pairs = pt21.load_pairs(gt_dir, pred_dir) if args.format == "21" else load_sequences(gt_dir, pred_dir)
        rows.append(("load (read + validate JSON)", clock() - t0))
        t0 = clock()
        prepared = prepare_sequences(pairs)
        rows.append(("cleanup + distances (poseval frames)", clock() - t0))
        kit_prepared = None
        if args.format == "21":
            t0 = clock()
            kit_prepared = pt21.kit_prepare(pairs)
            rows.append(("cleanup + distances (PoseTrack21 kit frames)", clock() - t0))
        t0 = clock()
        ap_res, _ = compute_ap(kit_prepared if args.format == "21" else prepared)
        rows.append(("AP" + (" (kit mAP)" if args.format == "21" else ""), clock() - t0))
        t0 = clock()
        mot_res, _ = compute_mot(prepared)
        rows.append(("MOT (tracker.eval.mot)", clock() - t0))
        ours = sum((seconds for _, seconds in rows), Seconds(0.0, 0.0))
        rows.append(("tracker.evaluate, what poseval computes", ours))
        t0 = clock()
        hota_res, _ = pt21.compute_hota(kit_prepared if kit_prepared is not None else pt21.kit_prepare(pairs))
        extra.append(("keypoint HOTA (19 alphas x 15 joints, kit frames)", clock() - t0))

        official = motmetrics_row = None
        ran = run_poseval(checkout, gt_dir, pred_dir, Path(tmp, "poseval_out")) if checkout is not None else None
        if ran is not None:
            seconds, numbers = ran
            official = ("official poseval (whole tool, a subprocess)", Seconds(seconds, float("nan")))
            difference = largest_difference(numbers, ap_res, mot_res)
            extra.append(official)
        else:
            checkout = None
        if checkout is None or args.motmetrics:
            t0 = clock()
            ref = motmetrics_counts(prepared)
            motmetrics_row = ("motmetrics as poseval drives it (MOT stage only)", clock() - t0)
            extra.append(motmetrics_row)
            counts = sum((sequence_counts(s.frames, s.dists) for s in prepared), zero_counts())
            for field in ("misses", "switches", "false_positives", "objects", "matches"):
                assert np.array_equal(getattr(counts, field), getattr(ref, field)), field
            assert np.allclose(counts.sum_d_all_events, ref.sum_d_all_events, rtol=0, atol=1e-9)

    frames = sum(len(s.frames) for s in prepared)
    print(f"CPU: {cpu_summary()}")
    print(f"{args.sequences} sequences x {args.frames} frames x {args.people} people, PoseTrack {args.format} files "
          f"({frames} labeled frames evaluated; generated and written in {generate.wall:.1f} s)")
    print(f"{'stage':52s} {'wall s':>8s} {'CPU s':>8s}")
    for name, sec in rows + extra:
        print(f"{name:52s} {sec.wall:8.2f} {sec.cpu:8.2f}")
    print(f"mAP {ap_res.totals['ap']:.1f}  MOTA {mot_res.totals['mota']:.1f}  MOTP {mot_res.totals['motp']:.1f}  "
          f"HOTA {100 * hota_res.alpha_mean['HOTA'][-1]:.1f}")
    if motmetrics_row is not None:
        print("motmetrics counts equal to tracker.eval.mot's: yes")
    if checkout is not None:
        print(f"official poseval at {checkout}: largest difference of its numbers from ours {difference:.2e}")
        print(f"speed-up over the official poseval: {official[1].wall / ours.wall:.1f}x (wall)")
    else:
        print("no official poseval ran (none found beside the project, ../poseval or --poseval DIR, or it failed): "
              "compared with its motmetrics stage alone")
    if motmetrics_row is not None:
        print(f"speed-up over poseval's motmetrics stage alone (a lower bound of the whole tool's): "
              f"{motmetrics_row[1].cpu / ours.cpu:.1f}x in CPU time, {motmetrics_row[1].wall / ours.wall:.1f}x in "
              "wall time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
