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
once per input shape, about 3 minutes each here).

Precision x runtime (``--cases``, comma-separated ``PRECISION:RUNTIME``, default every one the CPU does natively):
the estimator with ``pose.runtime_choice``'s runner: ``fp32|bf16|fp16:pytorch``, ``fp32|bf16|fp16|int8:openvino``,
``fp32|int8:onnxruntime`` (the HRNet exported by ``pose.export``, cached by its weights' digest in the weights
cache; int8 calibrated on synthetic crops). A case the CPU cannot run natively, or whose package is missing, is
skipped with one line. The same run measures the roofs: float32 ``torch.mm`` (sgemm), bf16 ``torch.mm`` where
the CPU does bf16 natively, int8 ``torch._int_mm`` where it does int8 natively (VNNI / AMX), each 2 n^3 ops.
The summary gives, per config, the best case over the fp32 fused PyTorch path (``fuse``) and that path's
share of sgemm, from the fastest round (min) and from the median round.

Other processes on a shared machine disturb single timings, so every row is timed once per round, the rounds
go round-robin over all rows of a config, and the best round is shown (``--rounds``, default 2). A timing
predicted to overrun ``--budget`` (default 270 s for the whole run) is left out; a row never timed says so. The
default run takes about 3 minutes on this 2-core machine when it is not shared. OpenMP threads are made to sleep
while waiting (``OMP_WAIT_POLICY=PASSIVE`` unless set): spinning threads are several times slower when the cores
are shared.
Usage: ``python benchmarks/pose_speed.py [--configs ...] [--batches 8] [--backends fuse,eager] [--cases ...]``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
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
from pose.precision import PRECISIONS, RUNTIMES, cpu_abilities, read_cpu_flags  # noqa: E402
from pose.transforms import box_to_center_scale, crop  # noqa: E402

BACKENDS = ("eager", "channels_last", "fuse", "jit", "compile")
CASES = tuple(f"{p}:{r}" for p in PRECISIONS for r in RUNTIMES
              if not (p == "int8" and r == "pytorch") and not (p in ("bf16", "fp16") and r == "onnxruntime"))


def sgemm_gflops(n: int = 2048, repeats: int = 10, dtype: torch.dtype = torch.float32) -> float:
    """Best-of-``repeats`` ``torch.mm`` speed in G(FL)OP/s (2 n^3 per product): float32 (sgemm), bfloat16, or int8
    (``torch._int_mm``, int32 accumulation)."""
    if dtype == torch.int8:
        a = torch.randint(-128, 128, (n, n), dtype=torch.int8)
        b = torch.randint(-128, 128, (n, n), dtype=torch.int8)
        product = torch._int_mm
    else:
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        product = torch.mm
    product(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        product(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def roofs(n: int, native: frozenset) -> dict[str, float]:
    """The GEMM roofs this CPU has natively: fp32 always, bf16 and int8 where its flags say so."""
    out = {"fp32": sgemm_gflops(n)}
    if "bf16" in native:
        out["bf16"] = sgemm_gflops(n, dtype=torch.bfloat16)
    if "int8" in native:
        out["int8"] = sgemm_gflops(n, dtype=torch.int8)
    return out


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
        "jit": (False, False), "case": (False, False),
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
    times: list[float] = field(default_factory=list)     # seconds per call, one per round

    @property
    def best(self) -> float:
        return min(self.times, default=float("inf"))

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else float("inf")


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


def case_estimators(model, config: Config, cases: list[str], max_batch: int, flips: list[bool]):
    """(label, {flip: estimator}) per precision:runtime case; a case this machine cannot run prints one line."""
    from pose.export import ExportError
    from pose.precision import PrecisionError
    from pose.quantize import QuantizeError
    from pose.runtime import RuntimeModelError
    from pose.runtime_choice import load_precision_runner

    out = []
    for case in cases:
        precision, runtime = case.split(":")
        tic = time.perf_counter()
        try:
            runner, choice = load_precision_runner(config, device="cpu", precision=precision, runtime=runtime,
                                                   model=model)
        except (PrecisionError, ExportError, QuantizeError, RuntimeModelError) as error:
            print(f"  {case}: skipped: {error}", flush=True)
            continue
        print(f"  {case}: {runner.name} ready ({time.perf_counter() - tic:.0f} s)", flush=True)
        out.append((case, {flip: TopDownPoseEstimator(runner, config, flip_test=flip, max_batch=max_batch)
                           for flip in flips}))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["coco_w32_256x192", "coco_w48_384x288"])
    parser.add_argument("--batches", nargs="+", type=int, default=[8], help="person crops per estimator call")
    parser.add_argument("--max-batch", type=int, default=16,
                        help="network batch cap of the estimator (flipped copies included)")
    parser.add_argument("--backends", default="fuse", help=f"PyTorch fp32 variants, from {', '.join(BACKENDS)}")
    parser.add_argument("--cases", default=",".join(CASES),
                        help="PRECISION:RUNTIME cases (default: all; those the CPU cannot run are skipped)")
    parser.add_argument("--flip", choices=["both", "on", "off"], default="on")
    parser.add_argument("--rounds", type=int, default=3,
                        help="times every row is measured, round-robin; min and median are shown")
    parser.add_argument("--naive-crops", type=int, default=2, help="crops per naive-loop call")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    parser.add_argument("--sgemm-size", type=int, default=2048)
    parser.add_argument("--budget", type=float, default=900.0,
                        help="seconds for the timed rounds; a cell predicted to overrun it is skipped")
    args = parser.parse_args(argv)

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [b for b in backends if b not in BACKENDS] + [c for c in cases if c not in CASES]
    if unknown or any(b < 1 for b in args.batches + [args.max_batch, args.rounds, args.naive_crops]):
        print(f"error: unknown backend(s) or case(s) {unknown} (backends: {', '.join(BACKENDS)}; cases: "
              f"{', '.join(CASES)}) or a count below 1", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    flips = {"both": [False, True], "on": [True], "off": [False]}[args.flip]
    threads = torch.get_num_threads()
    abilities = cpu_abilities(read_cpu_flags())
    rng = np.random.default_rng(0)

    roof_runs = [roofs(args.sgemm_size, abilities.native)]
    conv_gemm = [conv_gemm_gflops()]
    print(f"{abilities.description}; native: {', '.join(sorted(abilities.native))}")
    print(f"torch {torch.__version__}, {threads} threads, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, "
          f"load average {os.getloadavg()[0]:.1f}; GEMM roofs {args.sgemm_size}^3: "
          + ", ".join(f"{k} {v:.0f} G{'OP' if k == 'int8' else 'FLOP'}/s" for k, v in roof_runs[0].items())
          + f"; oneDNN 1x1-conv GEMM {conv_gemm[0]:.1f} GFLOP/s", flush=True)
    rows = []
    run_start = None
    for name in args.configs:
        config = load_config(name)
        width, height = config.model.image_size
        torch.manual_seed(0)   # the same random weights every run: the cached export is reused
        model = HRNet(config.model).eval()
        flops = 2 * count_macs(model, (1, 3, height, width))
        image, boxes = people(max(args.batches), rng)
        print(f"{name}: building", flush=True)
        cells = [
            Cell("naive loop", args.naive_crops, 1, flip,
                 lambda flip=flip: naive_loop(model, config, image, boxes[:args.naive_crops], flip))
            for flip in flips
        ]
        for backend in backends:
            runner = jit_optimized(model, (width, height)) if backend == "jit" else model
            for batch in args.batches:
                for flip in flips:
                    estimator = make_estimator(runner, config, backend, args.max_batch, flip)
                    if backend == "compile":   # compiles once per input shape; keep that out of the timing
                        estimator(image, boxes[:batch])
                    cells.append(Cell(backend, batch, min(args.max_batch, 2 * batch if flip else batch), flip,
                                      lambda e=estimator, b=batch: e(image, boxes[:b])))
        for label, estimators in case_estimators(model, config, cases, args.max_batch, flips):
            for batch in args.batches:
                for flip in flips:
                    estimator = estimators[flip]
                    estimator(image, boxes[:batch])      # warm-up: runtime allocations, oneDNN primitives
                    cells.append(Cell(label, batch, min(args.max_batch, 2 * batch if flip else batch), flip,
                                      lambda e=estimator, b=batch: e(image, boxes[:b])))
        for cell in cells[len(flips):len(flips) + 1]:
            cell.run()   # warm-up of the PyTorch path
        run_start = run_start or time.perf_counter()
        for _ in range(args.rounds):
            for cell in cells:
                naive_rate = next((c.crops / c.best for c in cells[: len(flips)] if c.flip == cell.flip), 0.0)
                predicted = cell.best if cell.times else cell.crops / max(naive_rate, 1e-9)
                if cell.label != "naive loop" and time.perf_counter() - run_start + predicted > args.budget:
                    continue
                start = time.perf_counter()
                cell.run()
                cell.times.append(time.perf_counter() - start)
        rows.append((name, flops, cells))
        roof_runs.append(roofs(args.sgemm_size, abilities.native))
        conv_gemm.append(conv_gemm_gflops())

    peak = {k: max(r[k] for r in roof_runs) for k in roof_runs[0]}
    median_roof = {k: statistics.median(r[k] for r in roof_runs) for k in roof_runs[0]}
    conv_peak = max(conv_gemm)
    summary = []
    for name, flops, cells in rows:
        print(f"\n{name}: {flops / 2 / 2**30:.2f} GMAC/crop (published 'GFLOPs'), {flops / 1e9:.2f} GFLOP/crop")
        print(f"{'path':<18} {'crops':>5} {'net':>3} {'flip':>4} {'crops/s':>8} {'median':>8} {'ms/crop':>8} "
              f"{'GFLOP/s':>8} {'%sgemm':>6} {'%conv':>6} {'x fuse':>6} {'x naive':>7}")
        naive = {c.flip: c.crops / c.best for c in cells if c.label == "naive loop"}
        fused = {(c.crops, c.flip): c for c in cells if c.label == "fuse" and c.times}
        for cell in cells:
            flip_text = "on" if cell.flip else "off"
            if not cell.times:
                print(f"{cell.label:<18} {cell.crops:>5} {cell.net:>3} {flip_text:>4}   skipped (over --budget)")
                continue
            rate = cell.crops / cell.best
            gflops = rate * flops * (2 if cell.flip else 1) / 1e9
            base = fused.get((cell.crops, cell.flip))
            versus = f"{rate / (base.crops / base.best):6.2f}" if base else f"{'-':>6}"
            print(f"{cell.label:<18} {cell.crops:>5} {cell.net:>3} {flip_text:>4} {rate:>8.2f} "
                  f"{cell.crops / cell.median:>8.2f} {1000 / rate:>8.1f} {gflops:>8.1f} "
                  f"{100 * gflops / peak['fp32']:>6.1f} {100 * gflops / conv_peak:>6.1f} {versus} "
                  f"{rate / naive[cell.flip]:>7.2f}")
        for (crops, flip), base in fused.items():
            others = [c for c in cells if c.times and c.crops == crops and c.flip == flip and c.label != "naive loop"]
            best_min = min(others, key=lambda c: c.best)
            best_med = min(others, key=lambda c: c.median)
            fuse_gflops = [crops / t * flops * (2 if flip else 1) / 1e9 for t in (base.best, base.median)]
            summary.append(
                f"{name}, {crops} crops, flip {'on' if flip else 'off'}: best path {best_min.label} "
                f"{base.best / best_min.best:.2f}x the fp32 fused PyTorch path (min), {best_med.label} "
                f"{base.median / best_med.median:.2f}x (median); fp32 fused = {100 * fuse_gflops[0] / peak['fp32']:.0f}% "
                f"of sgemm (min / best sgemm), {100 * fuse_gflops[1] / median_roof['fp32']:.0f}% (median / median)")
    print("\nGEMM roofs measured " + f"{len(roof_runs)} times: " + "; ".join(
        f"{k} {', '.join(f'{r[k]:.0f}' for r in roof_runs)}" for k in roof_runs[0])
        + f". oneDNN 1x1-conv GEMM: {', '.join(f'{v:.1f}' for v in conv_gemm)}; %sgemm uses the best sgemm "
          f"({peak['fp32']:.0f}), %conv {conv_peak:.1f}.")
    for line in summary:
        print(line)
    print(f"{args.rounds} rounds per row (crops/s from the fastest, 'median' from the median round); load average "
          f"{os.getloadavg()[0]:.1f}; timed rounds {time.perf_counter() - (run_start or time.perf_counter()):.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
