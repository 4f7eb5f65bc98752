"""Does the training loop learn? A tiny HRNet trained on CPU for a few hundred steps, loss and PCK per epoch.

    python benchmarks/train_tiny.py                      # stick figures (the test's data), 640 steps
    python benchmarks/train_tiny.py --data synthetic     # the synthetic generator's videos, configs/pose/synthetic_tiny.yaml
    python benchmarks/train_tiny.py --precision fp32,bf16 --epochs 20   # the two loss curves side by side

Prints one row per epoch (mean training loss, training PCK@0.5 of the official ``accuracy``) and the final
validation (heatmap PCK, OKS AP through pycocotools), then the loss drop from the first to the last epoch.
Runs with one intra-op thread by default (``--threads``): tiny convolutions gain nothing from more.
"""
from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pose.config import load_config  # noqa: E402
from pose.train import train  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", choices=("sticks", "synthetic"), default="sticks")
    parser.add_argument("--epochs", type=int, default=None, help="default: 80 (sticks), 10 (synthetic)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", help="working folder (default: a temporary one)")
    parser.add_argument("--precision", default="auto",
                        help="train.precision, comma-separated for one run each (e.g. fp32,bf16: the loss curves "
                             "side by side)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(args.out or tempfile.mkdtemp(prefix="train_tiny_"))

    if args.data == "sticks":
        from tests.pose.test_train import TINY_MODEL, make_stick_dataset

        root = make_stick_dataset(work / "sticks", images=64)
        epochs = args.epochs or 80
        overrides = [f"data.root={root}", "train.batch_size=8", *TINY_MODEL, "train.lr_steps=[60]"]
    else:
        from pose.data.synthetic import generate_dataset

        root = work / "synthetic"
        if not (root / "coco" / "person_keypoints.json").is_file():
            generate_dataset(root, videos=4, frames=40, seed=1, size=(320, 240), write_videos=False, progress=False)
        epochs = args.epochs or 10
        overrides = [f"data.root={root}", f"train.lr_steps=[{int(epochs * 0.8)}]"]
    overrides += [f"train.epochs={epochs}", f"train.val_every={epochs}"]
    from pose.precision import cpu_abilities

    print(cpu_abilities().description)
    curves = {}
    for precision in [p.strip() for p in args.precision.split(",") if p.strip()]:
        cfg = load_config("synthetic_tiny", overrides + [f"train.output_dir={work / 'runs' / precision}",
                                                         f"train.precision={precision}"])
        curves[precision] = run(cfg, args)
    if len(curves) > 1:
        names = list(curves)
        print(f"\ntrain loss per epoch, {' vs '.join(names)} (same seed, data and schedule):")
        print("| epoch | " + " | ".join(names) + f" | {names[1]} / {names[0]} |")
        print("|---|" + "---|" * (len(names) + 1))
        for rows in zip(*(curves[n][0] for n in names)):
            losses = [float(r["train_loss"]) for r in rows]
            print(f"| {rows[0]['epoch']} | " + " | ".join(f"{v:.3e}" for v in losses) + f" | {losses[1] / losses[0]:.3f} |")
        print("seconds: " + ", ".join(f"{n} {curves[n][1]:.0f}" for n in names))


def run(cfg, args) -> tuple[list[dict], float]:
    """Train ``cfg``; print its epochs; return the log rows and the seconds it took."""
    tic = time.time()
    result = train(cfg)
    seconds = time.time() - tic
    with (Path(result["out_dir"]) / "log.csv").open(newline="") as f:
        log = list(csv.DictReader(f))

    steps = sum(int(row["steps"]) for row in log)
    print(f"\n{args.data}: {len(log)} epochs, {steps} steps, model W{cfg.model.width} {cfg.model.image_size[1]}x"
          f"{cfg.model.image_size[0]}, batch {cfg.train.batch_size}, {seconds:.0f} s on {args.threads} thread(s)")
    print("| epoch | lr | train loss | train PCK |")
    print("|---|---|---|---|")
    for row in log:
        print(f"| {row['epoch']} | {float(row['lr']):.0e} | {float(row['train_loss']):.3e} | "
              f"{float(row['train_acc']):.3f} |")
    first, last = log[0], log[-1]
    drop = float(first["train_loss"]) / float(last["train_loss"])
    print(f"\nloss {float(first['train_loss']):.3e} -> {float(last['train_loss']):.3e} ({drop:.1f}x lower); "
          f"train PCK {float(first['train_acc']):.3f} -> {float(last['train_acc']):.3f}; "
          f"validation PCK {float(last['val_acc']):.3f}, OKS AP {float(last['val_AP']):.3f}")
    return log, seconds


if __name__ == "__main__":
    main()
