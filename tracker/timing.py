"""Per-stage wall-clock timing of the tracking pipeline (decode, detect, flow, propagate, nms, pose, associate).

``StageTimer`` accumulates seconds per stage name; ``with timer("pose"): ...`` times one call. ``summary()`` gives
a plain table with total seconds, milliseconds per frame and share of the wall time.
"""
from __future__ import annotations

import time
from contextlib import contextmanager


class StageTimer:
    """Seconds spent per named stage, and the number of frames seen."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.frames = 0
        self.notes: list[str] = []        # lines printed under the table (e.g. the precision each network ran in)
        self._start = time.perf_counter()

    @contextmanager
    def __call__(self, stage: str):
        begin = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - begin

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    @property
    def wall(self) -> float:
        """Seconds since the timer was made."""
        return time.perf_counter() - self._start

    def summary(self, wall: float | None = None) -> str:
        """A table: stage, total s, ms per frame, % of ``wall`` (default: since the timer was made)."""
        wall = self.wall if wall is None else wall
        frames = max(self.frames, 1)
        lines = [f"{'stage':<12} {'total s':>9} {'ms/frame':>9} {'% wall':>7}"]
        for stage, seconds in self.seconds.items():
            lines.append(f"{stage:<12} {seconds:9.2f} {1000 * seconds / frames:9.1f} {100 * seconds / wall:7.1f}")
        other = max(wall - sum(self.seconds.values()), 0.0)
        lines.append(f"{'(other)':<12} {other:9.2f} {1000 * other / frames:9.1f} {100 * other / wall:7.1f}")
        fps = self.frames / wall if wall > 0 else 0.0
        lines.append(f"{'wall':<12} {wall:9.2f} {1000 * wall / frames:9.1f} {100.0:7.1f}   "
                     f"{self.frames} frames, {fps:.2f} frames/s")
        return "\n".join(lines + self.notes)
