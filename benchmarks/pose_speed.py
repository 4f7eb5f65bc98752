"""Throughput of top-down pose estimation (crops/s) against a naive loop and the machine's sgemm speed.

For HRNet-W32 256x192 and HRNet-W48 384x288 (random weights; speed does not depend on them) this times the
whole ``TopDownPoseEstimator`` call (crop, normalise, network, flip test, decode) on frames with 1, 8 and 32
person boxes (``crops``), with and without the flip test; ``net`` is the network batch per forward pass (the
estimator's ``max_batch`` cap, flipped copies included). In the same run it measures:

- a naive loop: one crop at a time through the same steps, eager PyTorch with autograd on (no ``inference_mode``);
- the machine's float32 matrix-multiply speed (``torch.mm`` of two n x n matrices, 2 n^3 FLOPs), at the start and
  at the end (other processes on a shared machine move it).

The network's achieved GFLOP/s is FLOPs per crop (2 x conv/linear multiply-adds from ``pose.model.count_macs``;
twice that with the flip test) x crops/s, also as a percentage of sgemm (``%sgemm``) and of a large 1x1
convolution (``%conv``: the same GEMM run by oneDNN, the library that runs the network's convolutions; on AMD
CPUs ``torch.mm``'s BLAS may not use AVX-512 while oneDNN does, so the network can beat ``torch.mm``).

Backends (``--backends``, comma-separated): ``fuse`` (the estimator's default: BatchNorm folded into the
convolutions, NHWC memory), ``eager`` (plain PyTorch, inference_mode), ``channels_last`` (NHWC only), ``jit``
(TorchScript trace + ``torch.jit.optimize_for_inference``), ``compile`` (``torch.compile``, inductor; compiles
once per input shape, about 3 minutes each here), ``onnx`` (ONNX Runtime CPU on an exported model; needs the
``onnx`` and ``onnxscript`` packages for the export).

Other processes on a shared machine disturb single timings, so every row is timed once per round, the rounds
go round-robin over all rows of a config, and the best round is shown (``--rounds``, default 2). A timing
predicted to overrun ``--budget`` (default 270 s for the whole run) is left out; a row never timed says so. The
default run takes about 3 minutes on this 2-core machine when it is not shared. OpenMP threads are made to sleep
while waiting (``OMP_WAIT_POLICY=PASSIVE`` unless set): spinning threads are several times slower when the cores
are shared.
Usage: ``python benchmarks/pose_speed.py [--configs ...] [--batches 1 8 32] [--backends fuse,eager,onnx]``.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

# OpenMP threads that sleep instead of spinning while they wait: on a machine shared with other processes
# spinning threads slow PyTorch's CPU convolutions several-fold (measured here: 17 vs 115 GFLOP/s, 2 threads).
# It must be set before torch loads OpenMP; an explicit OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from pose.config import Config, load_config  # noqa: E402
from pose.decode import average_flip, decode_heatmaps  # noqa: E402
from pose.inference import IMAGENET_MEAN, IMAGENET_STD, TopDownPoseEstimator  # noqa: E402
from pose.keypoints import get_layout  # noqa: E402
from pose.model import HRNet, count_macs  # noqa: E402
from pose.transforms import box_to_center_scale, crop  # noqa: E402

BACKENDS = ("eager", "channels_last", "fuse", "jit", "compile", "onnx")


def sgemm_gflops(n: int = 2048, repeats: int = 10) -> float:
    """Best-of-``repeats`` float32 ``torch.mm`` speed in GFLOP/s (2 n^3 flops per product)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


class OnnxModel:
    """An ONNX Runtime session behind the model call the estimator makes: ``(B, 3, h, w)`` tensor -> heatmaps."""

    def __init__(self, model: torch.nn.Module, image_size: tuple[int, int], threads: int):
        import onnxruntime as ort

        width, height = image_size
        self._dir = tempfile.TemporaryDirectory()
        path = Path(self._dir.name) / "pose.onnx"
        torch.onnx.export(
            model.eval(), (torch.zeros(1, 3, height, width),), str(path), input_names=["images"],
            output_names=["heatmaps"], dynamic_axes={"images": {0: "batch"}, "heatmaps": {0: "batch"}},
            dynamo=False,
        )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(images.cpu().numpy())
        return torch.from_numpy(self.session.run(None, {"images": array})[0])


def jit_optimized(model: torch.nn.Module, image_size: tuple[int, int]):
    """TorchScript trace frozen with ``torch.jit.optimize_for_inference`` (BN folding, oneDNN layouts)."""
    width, height = image_size
    with torch.no_grad():
        traced = torch.jit.trace(model.eval(), torch.zeros(1, 3, height, width))
        return torch.jit.optimize_for_inference(traced)


def make_estimator(model, config: Config, backend: str, max_batch: int, flip: bool) -> TopDownPoseEstimator:
    """The estimator for one backend; ``model`` is the HRNet, or the jit/ONNX runner for those backends."""
    options = dict(flip_test=flip, max_batch=max_batch)
    layout = {  # (channels_last, fuse_bn)
        "eager": (False, False), "channels_last": (True, False), "fuse": (True, True), "compile": (True, True),
        "jit": (False, False), "onnx": (False, False),
    }[backend]
    return TopDownPoseEstimator(model, config, channels_last=layout[0], fuse_bn=layout[1],
                                compile=backend == "compile", **options)


def people(count: int, rng: np.random.Generator, width: int = 1280, height: int = 720):
    """A random frame and ``count`` person boxes (xyxy) in it."""
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    x1 = rng.uniform(0, width - 200, count)
    y1 = rng.uniform(0, height - 400, count)
    boxes = np.stack([x1, y1, x1 + rng.uniform(80, 200, count), y1 + rng.uniform(200, 400, count)], axis=1)
    return image, boxes


def conv_gemm_gflops(channels: int = 1024, size: int = 64, repeats: int = 10) -> float:
    """Best-of-``repeats`` speed of a 1x1 convolution (a GEMM run by oneDNN, the library behind the network)."""
    x = torch.randn(1, channels, size, size).contiguous(memory_format=torch.channels_last)
    w = torch.randn(channels, channels, 1, 1).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        torch.nn.functional.conv2d(x, w)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            torch.nn.functional.conv2d(x, w)
            best = min(best, time.perf_counter() - start)
    return 2 * channels * channels * size * size / best / 1e9


@dataclass
class Cell:
    """One table row: a call that processes ``crops`` crops, timed once per round; the best round is kept."""

    label: str
    crops: int
    net: int
    flip: bool
    run: Callable[[], object]
    best: float = float("inf")     # seconds per call


def naive_loop(model, config: Config, image, boxes, flip: bool) -> None:
    """One crop at a time, eager with autograd on: crop, normalise, forward (twice with flip), decode."""
    width, height = config.model.image_size
    aspect = width / height
    pairs = get_layout(config.model.keypoints).flip_pairs
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    for box in boxes:
        center, scale = box_to_center_scale(box, aspect, box_format="xyxy")
        patch = crop(image, center, scale, (width, height))
        x = ((torch.from_numpy(patch).permute(2, 0, 1).float() / 255 - mean) / std)[None]
        out = model(x)
        if flip:
            out = average_flip(out, model(x.flip(3)), pairs)
        decode_heatmaps(out.detach().numpy(), center[None], scale[None])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["coco_w32_256x192", "coco_w48_384x288"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8, 32])
    parser.add_argument("--max-batch", type=int, default=8,
                        help="network batch cap of the estimator (flipped copies included); 8 = its CPU default")
    parser.add_argument("--backends", default="fuse", help=f"comma-separated, from {', '.join(BACKENDS)}")
    parser.add_argument("--flip", choices=["both", "on", "off"], default="both")
    parser.add_argument("--rounds", type=int, default=2,
                        help="times every row is measured, round-robin; the best is shown (others share the CPU)")
    parser.add_argument("--naive-crops", type=int, default=2, help="crops per naive-loop call")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    parser.add_argument("--sgemm-size", type=int, default=2048)
    parser.add_argument("--budget", type=float, default=270.0,
                        help="seconds for the whole run; a cell predicted to overrun it is skipped")
    args = parser.parse_args(argv)

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown or any(b < 1 for b in args.batches + [args.max_batch, args.rounds, args.naive_crops]):
        print(f"error: unknown backend(s) {unknown} (choose from {', '.join(BACKENDS)}) or a count below 1",
              file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    flips = {"both": [False, True], "on": [True], "off": [False]}[args.flip]
    threads = torch.get_num_threads()
    rng = np.random.default_rng(0)

    run_start = time.perf_counter()
    sgemm = [sgemm_gflops(args.sgemm_size)]
    conv_gemm = [conv_gemm_gflops()]
    print(f"torch {torch.__version__}, {threads} threads, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, "
          f"load average {os.getloadavg()[0]:.1f}; sgemm {args.sgemm_size}^3 {sgemm[0]:.1f} GFLOP/s, "
          f"oneDNN 1x1-conv GEMM {conv_gemm[0]:.1f} GFLOP/s")
    rows = []
    for name in args.configs:
        config = load_config(name)
        width, height = config.model.image_size
        model = HRNet(config.model).eval()
        flops = 2 * count_macs(model, (1, 3, height, width))
        image, boxes = people(max(args.batches), rng)
        cells = [
            Cell("naive loop", args.naive_crops, 1, flip,
                 lambda flip=flip: naive_loop(model, config, image, boxes[:args.naive_crops], flip))
            for flip in flips
        ]
        for backend in backends:
            runner = model
            if backend == "onnx":
                runner = OnnxModel(model, (width, height), threads)
            elif backend == "jit":
                runner = jit_optimized(model, (width, height))
            for batch in args.batches:
                for flip in flips:
                    estimator = make_estimator(runner, config, backend, args.max_batch, flip)
                    if backend == "compile":   # compiles once per input shape; keep that out of the timing
                        estimator(image, boxes[:batch])
                    cells.append(Cell(backend, batch, min(args.max_batch, 2 * batch if flip else batch), flip,
                                      lambda e=estimator, b=batch: e(image, boxes[:b])))
            cells[-1].run()   # warm-up call: oneDNN primitives, ONNX Runtime allocations
        for _ in range(args.rounds):
            for cell in cells:
                naive_rate = next((c.crops / c.best for c in cells[: len(flips)] if c.flip == cell.flip), 0.0)
                predicted = cell.best if cell.best < float("inf") else cell.crops / max(naive_rate, 1e-9)
                if cell.label != "naive loop" and time.perf_counter() - run_start + predicted > args.budget:
                    continue
                start = time.perf_counter()
                cell.run()
                cell.best = min(cell.best, time.perf_counter() - start)
        rows.append((name, flops, cells))
        sgemm.append(sgemm_gflops(args.sgemm_size))
        conv_gemm.append(conv_gemm_gflops())

    peak, conv_peak = max(sgemm), max(conv_gemm)
    for name, flops, cells in rows:
        print(f"\n{name}: {flops / 2 / 2**30:.2f} GMAC/crop (published 'GFLOPs'), {flops / 1e9:.2f} GFLOP/crop")
        print(f"{'backend':<13} {'crops':>5} {'net':>3} {'flip':>4} {'crops/s':>8} {'ms/crop':>8} {'GFLOP/s':>8} "
              f"{'%sgemm':>6} {'%conv':>6} {'x naive':>7}")
        naive = {c.flip: c.crops / c.best for c in cells if c.label == "naive loop"}
        for cell in cells:
            flip_text = "on" if cell.flip else "off"
            if cell.best == float("inf"):
                print(f"{cell.label:<13} {cell.crops:>5} {cell.net:>3} {flip_text:>4}   skipped (over --budget)")
                continue
            rate = cell.crops / cell.best
            gflops = rate * flops * (2 if cell.flip else 1) / 1e9
            print(f"{cell.label:<13} {cell.crops:>5} {cell.net:>3} {flip_text:>4} {rate:>8.2f} {1000 / rate:>8.1f} "
                  f"{gflops:>8.1f} {100 * gflops / peak:>6.1f} {100 * gflops / conv_peak:>6.1f} "
                  f"{rate / naive[cell.flip]:>7.2f}")
    print(f"\nsgemm (GFLOP/s) measured {len(sgemm)} times: {', '.join(f'{v:.1f}' for v in sgemm)}; %sgemm uses the "
          f"best, {peak:.1f}. oneDNN 1x1-conv GEMM: {', '.join(f'{v:.1f}' for v in conv_gemm)}; %conv uses "
          f"{conv_peak:.1f}.")
    print(f"best of {args.rounds} rounds per row; load average {os.getloadavg()[0]:.1f}; "
          f"run time {time.perf_counter() - run_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
