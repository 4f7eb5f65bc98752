"""Speed of the PoseTrack file readers and writers (pose/data/posetrack.py).

Writes a synthetic prediction set of S sequences x F frames x P people (default 50 x 100 x 8, the size of the
evaluator benchmark) in both formats to a temporary folder, then times reading and writing it.

    python benchmarks/posetrack_io.py [--sequences 50 --frames 100 --people 8 --repeat 3]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from pose.data.posetrack import read_sequence_dir, sequence_from_arrays, write_sequence


def make_sequences(n_seq: int, n_frames: int, n_people: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    seqs = []
    for s in range(n_seq):
        name = f"{s + 1:06d}_mpii_test"
        files = [f"images/val/{name}/{t:06d}.jpg" for t in range(n_frames)]
        kps = [rng.uniform(0, 1000, (n_people, 17, 2)) for _ in files]
        scores = [rng.uniform(0, 1, (n_people, 17)) for _ in files]
        tids = [np.arange(n_people) for _ in files]
        seqs.append(sequence_from_arrays(name, files, kps, scores, tids, score_threshold=0.1))
    return seqs


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=50)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--people", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    seqs = make_sequences(args.sequences, args.frames, args.people)
    people = args.sequences * args.frames * args.people
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("2018", "2017"):
            folder = Path(tmp) / fmt

            def write():
                for seq in seqs:
                    write_sequence(seq, folder / f"{seq.name}.json", fmt)

            t_write = best_of(args.repeat, write)
            size = sum(p.stat().st_size for p in folder.glob("*.json"))
            t_json = best_of(args.repeat, lambda: [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))])
            t_read = best_of(args.repeat, lambda: read_sequence_dir(folder, "pred"))
            rows.append((fmt, size / 2**20, t_json, t_read, t_write, people / t_read))
    print(f"{args.sequences} sequences x {args.frames} frames x {args.people} people = {people} people")
    print(f"{'format':<7}{'MiB':>8}{'json.loads s':>14}{'read s':>9}{'write s':>9}{'people/s read':>15}")
    for fmt, mib, t_json, t_read, t_write, rate in rows:
        print(f"{fmt:<7}{mib:>8.1f}{t_json:>14.3f}{t_read:>9.3f}{t_write:>9.3f}{rate:>15.0f}")


if __name__ == "__main__":
    main()
