"""Parameters and GFLOPs of the six paper HRNet configs, counted as the HRNet paper did.

GFLOPs = convolution + linear multiply-adds / 2**30 (the official get_model_summary; BN, ReLU, upsampling and
additions not counted), params = learnable parameters. Usage: ``python benchmarks/flops.py``.
"""
from __future__ import annotations

import torch

from pose.config import load_config
from pose.model import HRNet, count_macs, count_parameters

CONFIGS = (
    "coco_w32_256x192", "coco_w32_384x288", "coco_w48_256x192", "coco_w48_384x288",
    "mpii_w32_256x256", "mpii_w48_256x256",
)


def main() -> None:
    torch.set_grad_enabled(False)
    print(f"{'config':<18} {'input (HxW)':>11} {'params':>12} {'GFLOPs':>7}")
    for name in CONFIGS:
        config = load_config(name)
        width, height = config.model.image_size
        model = HRNet(config.model)
        gflops = count_macs(model, (1, 3, height, width)) / 2**30
        print(f"{name:<18} {f'{height}x{width}':>11} {count_parameters(model):>12,} {gflops:>7.2f}")


if __name__ == "__main__":
    main()
