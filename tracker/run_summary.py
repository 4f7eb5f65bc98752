"""``OUT/run_summary.json``: what a (possibly sharded, possibly resumed) run has finished, updated as items end.

    {"versions": {...}, "config_hash": "...", "world_size": W,
     "items": [{"item": "000342_mpii_test.json", "rank": 0, "frames": 100, "seconds": 41.2}, ...]}

One process writes ``run_summary.json`` itself after every item. In a sharded run each rank writes its own part,
``run_summary.rank<R>.json`` (one writer per file, so no write races), rank 0 folds the parts it can see into
``run_summary.json`` whenever it finishes an item, and the final merge (every rank's part, handed over by
``tracker.ranks.Collector``) happens at the end. All files are written atomically. The evaluator and poseval read
predictions by the ground truth's file names, so these files do not disturb a submission folder.

``resume_state``: whether an item's output is already done (exists and reads back as a valid prediction, with the
ground truth's images where there is one); a damaged file is redone.
"""
from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass, field
from pathlib import Path

from pose.data.posetrack import PoseTrackFormatError, check_prediction_matches_gt, read_sequence
from pose.fileio import write_json_atomic

SUMMARY_NAME = "run_summary.json"


def part_name(rank: int) -> str:
    return f"run_summary.rank{rank}.json"


def heartbeat_name(rank: int) -> str:
    return f"run_summary.rank{rank}.alive"


def config_hash(config) -> str:
    """A short digest of the resolved track config (device left out: ranks run on different devices)."""
    settings = {k: v for k, v in config.to_dict().items() if k != "device"}
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def versions() -> dict:
    """The versions that decide the numbers of a run."""
    from importlib import metadata

    import numpy

    found = {"python": platform.python_version(), "numpy": numpy.__version__}
    for package in ("posetrack", "torch", "torchvision", "opencv-contrib-python", "onnxruntime"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


def _read(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def output_is_done(path: Path, item) -> bool:
    """``path`` exists and reads back as a prediction of ``item`` (same images as its ground truth, if any)."""
    if not path.is_file():
        return False
    try:
        prediction = read_sequence(path, role="pred", check_file_names=False)
        if item.reference is not None:
            check_prediction_matches_gt(prediction, read_sequence(item.reference, role="any"))
        elif item.file_names is not None:
            return [f.file_name for f in prediction.frames] == list(item.file_names)
        return len(prediction.frames) > 0
    except (PoseTrackFormatError, OSError, ValueError):
        return False
    return True


@dataclass
class RunSummary:
    """The summary of one rank. ``record`` after each item; ``merge`` (rank 0) at the end."""

    out: Path
    rank: int
    world_size: int
    config_hash: str
    run_id: str = ""
    resume: bool = False
    items: list[dict] = field(default_factory=list)
    stages: dict = field(default_factory=dict)
    wall: float = 0.0
    previous: list[dict] = field(default_factory=list)
    failed: str = ""  # why this rank stopped early, if it did

    def __post_init__(self):
        self.out = Path(self.out)
        self.versions = versions()
        old = _read(self.out / SUMMARY_NAME) if self.resume else None
        if old is not None:
            self.previous = [i for i in old.get("items", []) if isinstance(i, dict) and "item" in i]
            self.previous_hash = old.get("config_hash")
        else:
            self.previous_hash = None
        if self.world_size > 1:
            (self.out / part_name(self.rank)).unlink(missing_ok=True)  # a part from an earlier launch
            self.heartbeat(self.rank).unlink(missing_ok=True)

    def record(self, output: str, frames: int, seconds: float) -> None:
        self.items.append({"item": output, "rank": self.rank, "frames": int(frames), "seconds": round(seconds, 3)})
        self.write()

    def part(self, finished: bool = False) -> dict:
        return {"run_id": self.run_id, "rank": self.rank, "finished": finished, "items": self.items,
                "stages": self.stages, "wall": self.wall, "failed": self.failed}

    def write(self, finished: bool = False) -> None:
        if self.world_size == 1:
            self._write_summary([self.part(finished)])
            return
        write_json_atomic(self.out / part_name(self.rank), self.part(finished), indent=1)
        if self.rank == 0:  # what rank 0 can see now; the final merge follows at the end
            parts = [self.part(finished)] + [p for r in range(1, self.world_size)
                                             if (p := self.read_part(r, finished=False)) is not None]
            self._write_summary(parts)

    def heartbeat(self, rank: int) -> Path:
        """The file rank ``rank`` touches while it runs (``tracker.ranks.Collector``)."""
        return self.out / heartbeat_name(rank)

    def read_part(self, rank: int, finished: bool = True) -> dict | None:
        """Rank ``rank``'s part file of this launch (``finished``: only once that rank is done), or None."""
        part = _read(self.out / part_name(rank))
        if part is None or part.get("run_id") != self.run_id or (finished and not part.get("finished")):
            return None
        return part

    def _write_summary(self, parts: list[dict]) -> list[dict]:
        done = {i["item"] for p in parts for i in p.get("items", [])}
        items = [i for i in self.previous if i["item"] not in done]
        items += [i for p in parts for i in p.get("items", [])]
        items.sort(key=lambda i: i["item"])
        write_json_atomic(self.out / SUMMARY_NAME, {"versions": self.versions, "config_hash": self.config_hash,
                                                     "world_size": self.world_size, "items": items}, indent=1)
        return items

    def merge(self, parts: list[dict]) -> None:
        """Rank 0, at the end: every rank's final part into ``run_summary.json``."""
        self._write_summary([p for p in parts if not p.get("missing")])


def timing_table(parts: list[dict]) -> str:
    """One table for the whole run: per rank its items, frames, seconds and frames/s, then the stages summed."""
    lines = [f"{'rank':<6} {'items':>6} {'frames':>8} {'seconds':>9} {'frames/s':>9}"]
    total_frames, stages = 0, {}
    for part in parts:
        if part.get("missing"):
            lines.append(f"{part['rank']:<6} (no report: the rank failed or was stopped)")
            continue
        if part.get("failed"):
            lines.append(f"{part['rank']:<6} stopped early: {part['failed']}")
        frames = sum(i["frames"] for i in part["items"])
        seconds = part.get("wall", 0.0)
        total_frames += frames
        for stage, value in part.get("stages", {}).items():
            stages[stage] = stages.get(stage, 0.0) + value
        lines.append(f"{part['rank']:<6} {len(part['items']):>6} {frames:>8} {seconds:9.2f} "
                     f"{frames / seconds if seconds > 0 else 0.0:9.2f}")
    wall = max((p.get("wall", 0.0) for p in parts), default=0.0)
    lines.append(f"{'all':<6} {sum(len(p.get('items', [])) for p in parts):>6} {total_frames:>8} {wall:9.2f} "
                 f"{total_frames / wall if wall > 0 else 0.0:9.2f}   (wall = the slowest rank)")
    if stages:
        busy = sum(stages.values())
        lines.append("")
        lines.append(f"{'stage':<12} {'total s':>9} {'ms/frame':>9} {'% busy':>7}   (summed over ranks)")
        for stage, seconds in stages.items():
            lines.append(f"{stage:<12} {seconds:9.2f} {1000 * seconds / max(total_frames, 1):9.1f} "
                         f"{100 * seconds / busy if busy > 0 else 0.0:7.1f}")
    return "\n".join(lines)


def warn_if_config_changed(summary: RunSummary) -> str | None:
    """A warning when a resumed run's config differs from the one that made the finished items."""
    if summary.previous_hash and summary.previous_hash != summary.config_hash:
        return (f"warning: resuming a run made with another config (hash {summary.previous_hash}, now "
                f"{summary.config_hash}); the finished items keep their results, the rest use the new config")
    return None
