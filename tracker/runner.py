"""The run loop over a work list: each item tracked, streamed into the sinks, recorded; resumable and sharded.

``run_items(items, track_item, sinks, summary)`` does, for every item of this rank's share:

1. with ``resume``, skip it when its output is already done (``tracker.run_summary.output_is_done``);
2. ``sink.start(item)`` for every sink, then for each ``(frame, tracked)`` of ``track_item(item)`` (a generator of
   ``tracker.types.Frame`` and its ``TrackedFrame``) ``sink.add(tracked, frame)``;
3. ``sink.finish()`` (files published atomically) and ``summary.record(...)``; on any exception or interrupt
   ``sink.abort()`` instead, so at most the item in flight is lost.

A sink is any object with ``start(item)``, ``add(tracked, frame)``, ``finish()`` and ``abort()`` (see
``tracker.sinks``); ``add`` gets the decoded ``Frame`` too, for sinks that draw on the image.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tracker.run_summary import RunSummary, output_is_done
from tracker.types import Frame, TrackedFrame
from tracker.worklist import WorkItem


@dataclass
class RunReport:
    """What ``run_items`` did: the items tracked (with their output paths) and those skipped as done."""

    written: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def run_items(items: list[WorkItem], track_item: Callable[[WorkItem], Iterator[tuple[Frame, TrackedFrame]]],
              sinks: list, summary: RunSummary, resume: bool = False, progress: bool = True) -> RunReport:
    """Track ``items`` in order into ``sinks`` (see the module docstring); returns the ``RunReport``."""
    from tqdm import tqdm

    report = RunReport()
    for item in items:
        target = summary.out / item.output
        if resume and output_is_done(target, item):
            report.skipped.append(item.output)
            continue
        start = time.perf_counter()
        frames = 0
        try:
            for sink in sinks:
                sink.start(item)
            with tqdm(total=item.frames or None, desc=item.name, unit="frame", disable=not progress,
                      dynamic_ncols=True, leave=False, file=sys.stderr) as bar:
                for frame, tracked in track_item(item):
                    for sink in sinks:
                        sink.add(tracked, frame)
                    frames += 1
                    bar.update(1)
            for sink in sinks:
                sink.finish()
        except BaseException:
            for sink in sinks:
                sink.abort()
            raise
        report.written.append(target)
        summary.record(item.output, frames, time.perf_counter() - start)
    return report
