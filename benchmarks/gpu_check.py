"""GPU check: CUDA inference equals CPU inference, and HRNet crops/s on the GPU in fp32 and fp16 autocast.

    python benchmarks/gpu_check.py [--weights hrnet_synthetic] [--batches 1 32 128]

CI has no GPU; run this where one is (the training side is checked with `python -m pose.train ... --device cuda`,
which uses AMP there).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from pose import build_model
from pose.config import load_config
from pose.inference import TopDownPoseEstimator


def crops_per_second(model, size_hw, batch, amp: bool, repeats: int = 20) -> float:
    x = torch.randn(batch, 3, *size_hw, device="cuda")
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=amp):
        for _ in range(3):
            model(x)
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(repeats):
            model(x)
        torch.cuda.synchronize()
    return batch * repeats / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default="hrnet_synthetic", help="registry name or path for the parity check")
    parser.add_argument("--config", default="hrnet_synthetic")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32, 128])
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("error: no CUDA device; run this on a machine with a GPU")
        return 2
    print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")

    # CUDA and CPU inference agree (same weights, same boxes, flip test on).
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    boxes = np.array([[100, 80, 220, 400], [300, 50, 420, 420], [500, 200, 600, 470]], np.float32)
    cfg = load_config(args.config)
    results = {}
    for device in ("cpu", "cuda"):
        estimator = TopDownPoseEstimator(build_model(cfg, args.weights, device), cfg, device=device)
        results[device] = estimator(image, boxes)
    kp_diff = np.abs(results["cpu"][0] - results["cuda"][0]).max()
    score_diff = np.abs(results["cpu"][1] - results["cuda"][1]).max()
    print(f"cpu vs cuda: max keypoint difference {kp_diff:.2e} px, max score difference {score_diff:.2e}")

    print(f"{'config':<18}{'batch':>6}{'fp32 crops/s':>14}{'fp16 crops/s':>14}")
    for name in ("coco_w32_256x192", "coco_w48_384x288"):
        model = build_model(name, device="cuda")
        w, h = load_config(name).model.image_size
        for batch in args.batches:
            fp32 = crops_per_second(model, (h, w), batch, amp=False)
            fp16 = crops_per_second(model, (h, w), batch, amp=True)
            print(f"{name:<18}{batch:>6}{fp32:>14.1f}{fp16:>14.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
