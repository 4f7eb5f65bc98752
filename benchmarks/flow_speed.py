"""Speed and accuracy of every flow backend on 768x576 frame pairs (the PoseTrack-like resolution).

For each backend: milliseconds per frame pair (median of the timed runs after one warm-up call) and the mean
end-point error on two synthetic known-motion pairs (a sub-pixel translation and two objects moving apart, see
flow/synthetic.py). The learned models run with RANDOM weights (no checkpoint can be downloaded here): their timing
is real, their error is meaningless and is shown only to prove the output is a finite flow field.

    python benchmarks/flow_speed.py                      # all backends, CPU, about 3-4 minutes
    python benchmarks/flow_speed.py --backends dis farneback --repeats 10
    python benchmarks/flow_speed.py --device cuda        # learned backends on a GPU

Each backend runs the two accuracy pairs, then repeats while its calls took less than ``--budget-s`` seconds in all
(up to a per-backend count); FlowNet2 runs one pair only.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from flow import FlowError, get_estimator  # noqa: E402
from flow.synthetic import endpoint_error, translation_pair, two_objects_pair  # noqa: E402

# (label, get_estimator name, options, learned with random weights, max timed runs)
BACKENDS = [
    ("dis ultrafast", "dis", {"preset": "ultrafast"}, False, 20),
    ("dis fast", "dis", {"preset": "fast"}, False, 20),
    ("dis medium", "dis", {"preset": "medium"}, False, 20),
    ("farneback", "farneback", {}, False, 10),
    ("tvl1", "tvl1", {}, False, 3),
    ("raft_small (torchvision)", "raft_small", {"checkpoint": "random"}, True, 3),
    ("flownets (ptlflow)", "flownets", {"checkpoint": "random"}, True, 3),
    # flownet2: one warm-up call on the first pair + one timed call
    ("flownet2 (ptlflow)", "flownet2", {"checkpoint": "random"}, True, 1),
]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--height", type=int, default=576)
    parser.add_argument("--backends", nargs="*", help="labels' first words to run (default: all), e.g. dis tvl1")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per backend (default: per backend)")
    parser.add_argument("--budget-s", type=float, default=20.0, help="stop timing a backend after this long")
    parser.add_argument("--device", default="cpu", help="device of the learned backends")
    return parser.parse_args(argv)


def run_backend(estimate, pairs, max_runs: int, budget_s: float) -> tuple[float, list[float], int]:
    """Time calls of ``estimate``: one per accuracy pair, then repeats of the first pair while under budget.

    The first call is a warm-up, always followed by at least one timed call, and left out of the median. A backend
    with ``max_runs == 1`` runs the first pair only. Returns (median ms per pair, EPE per pair run, timed calls).
    """
    times, errors = [], []
    for pair in pairs if max_runs > 1 else pairs[:1]:  # max_runs == 1: one pair, one warm-up call
        t0 = time.perf_counter()
        result = estimate(pair.prev, pair.next)
        times.append(time.perf_counter() - t0)
        if result.shape != pair.flow.shape or not np.isfinite(result).all():
            raise RuntimeError(f"bad flow output: shape {result.shape}, finite {np.isfinite(result).all()}")
        errors.append(endpoint_error(result, pair.flow, pair.valid))
    while len(times) <= max_runs and (len(times) < 2 or sum(times) < budget_s):
        t0 = time.perf_counter()
        estimate(pairs[0].prev, pairs[0].next)
        times.append(time.perf_counter() - t0)
    timed = times[1:] if len(times) > 1 else times
    return 1000 * float(np.median(timed)), errors, len(timed)


def main(argv=None) -> int:
    args = parse_args(argv)
    pairs = [translation_pair(args.height, args.width), two_objects_pair(args.height, args.width, shift=4)]
    print(f"frame pairs {args.width}x{args.height}, learned backends on {args.device}")
    header = f"{'backend':26s} {'ms/pair':>9s} {'runs':>5s} {'EPE transl.':>12s} {'EPE 2 objects':>14s}  note"
    print(header)
    print("-" * len(header))
    for label, name, options, learned, max_runs in BACKENDS:
        if args.backends and label.split()[0] not in args.backends:
            continue
        if learned:
            import torch

            torch.manual_seed(0)  # the same random weights on every run
            options = {**options, "device": args.device, "batch_size": 1}
        try:
            t0 = time.perf_counter()
            estimate = get_estimator(name, **options)
            build_s = time.perf_counter() - t0
            ms, errors, runs = run_backend(estimate, pairs, args.repeats or max_runs, args.budget_s)
        except FlowError as exc:
            print(f"{label:26s} {'-':>9s} {'-':>5s} {'-':>12s} {'-':>14s}  skipped: {exc}")
            continue
        note = f"random weights, built in {build_s:.1f} s" if learned else ""
        if len(errors) == 1:
            note += "; one pair"
        cells = [f"{e:.3f}" for e in errors] + ["-"] * (len(pairs) - len(errors))
        print(f"{label:26s} {ms:9.1f} {runs:5d} {cells[0]:>12s} {cells[1]:>14s}  {note}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
