"""The tracker on a generated PoseTrack21-format set, scored with keypoint HOTA, end to end.

    python benchmarks/pt21_end_to_end.py --out DIR [--videos 3 --frames 16 --size 320x240 --label-stride 2]
                                         [--pose-weights hrnet_synthetic] [--pose-model NAME] [--seed 5]

1. ``python -m pose.data.synthetic``: frames, PoseTrack 2018 ground truth and noisy detections per video;
2. ``python -m pose.data.posetrack convert ... --format 21``: the ground truth as PoseTrack21 (``DIR/gt21``);
3. the per-video detections merged into one file keyed by the ground truth's image ids (``DIR/detections.json``);
4. ``python -m tracker.run --images DIR --gt-dir DIR/gt21 --detector file:... --format auto``: submission mode,
   which writes PoseTrack21 because the ground truth is PoseTrack21 (``DIR/pred21``);
5. ``python -m tracker.evaluate --gt DIR/gt21 --pred DIR/pred21 --hota --json DIR/result.json``.
Each step runs as its own command, as a user would; their output is printed.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pose.data.synthetic.detections import detections_by_image_id  # noqa: E402


def step(*args: str) -> float:
    print("$ python " + " ".join(args), flush=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, type=Path, help="working folder (created)")
    p.add_argument("--videos", type=int, default=3)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--size", default="320x240")
    p.add_argument("--label-stride", type=int, default=2)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--pose-weights", default="hrnet_synthetic")
    p.add_argument("--pose-model", default=None, help="pose config the weights fit (default: from the registry)")
    args = p.parse_args(argv)
    out = args.out.resolve()
    step("-m", "pose.data.synthetic", "--out", str(out), "--videos", str(args.videos), "--frames", str(args.frames),
         "--seed", str(args.seed), "--size", args.size, "--label-stride", str(args.label_stride), "--no-videos",
         "--quiet")
    step("-m", "pose.data.posetrack", "convert", str(out / "annotations"), str(out / "gt21"), "--format", "21")
    merged = detections_by_image_id(out, out / "gt21")
    (out / "detections.json").write_text(json.dumps(merged))
    boxes = len(merged)
    print(f"merged {boxes} detections into {out / 'detections.json'}")
    model = ["--pose-model", args.pose_model] if args.pose_model else []
    seconds = step("-m", "tracker.run", "--images", str(out), "--gt-dir", str(out / "gt21"), "--out",
                   str(out / "pred21"), "--detector", f"file:{out / 'detections.json'}", "--pose-weights",
                   args.pose_weights, *model, "--format", "auto", "--no-progress", "--quiet")
    print(f"tracker: {seconds:.1f} s for {args.videos * args.frames} frames")
    step("-m", "tracker.evaluate", "--gt", str(out / "gt21"), "--pred", str(out / "pred21"), "--hota", "--json",
         str(out / "result.json"))
    result = json.loads((out / "result.json").read_text())
    print("HOTA {:.3f}  DetA {:.3f}  AssA {:.3f}  LocA {:.3f}  mAP {:.1f}  MOTA {:.1f}".format(
        *(result["hota"][k]["total"] for k in ("HOTA", "DetA", "AssA", "LocA")), result["ap"]["total"],
        result["mota"]["total"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
