"""Tracked poses as a CSV table (``--csv FILE``) and as one JSON file per person (``--per-track DIR``).

Both are sinks with the run loop's protocol (``start(item)``, ``add(tracked, frame)`` once per frame in order,
``finish()``, ``abort()``; ``item.name`` is the video name) and write as the frames come: rows go straight into a
hidden temporary file, each person's frames are appended to a hidden per-track file, and ``finish`` renames or
assembles the final files, so memory stays flat over any video length and an interrupted run leaves nothing that
looks complete.

CSV columns (one row per frame, track and joint, joints in PoseTrack 2018 order):
``frame`` (0-based index), ``time_s`` (frame / fps), ``track_id``, ``joint`` (name), ``x``, ``y`` (pixels; empty where
the joint scores below ``output.joint_score_threshold``, as the PoseTrack JSON leaves it out), ``score``,
``source`` (``detected``: the person box came from the detector, ``propagated``: from the previous frame's pose moved
by optical flow, ``given``: tracking-only mode).

Per-track JSON ``DIR/<video>/track_<id>.json``: ``{"video", "track_id", "joints": [names], "frames": [{"frame",
"time_s", "box": [x1, y1, x2, y2], "box_score", "source", "keypoints": [[x, y, score] per joint]}]}``, plus
``"raw_keypoints"`` per frame when the keypoints were smoothed (``x, y`` before smoothing).
"""
from __future__ import annotations

import csv
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose.fileio import publish, temporary_path
from pose.keypoints import POSETRACK18
from tracker.types import SOURCE_NAMES, TrackedFrame

CSV_COLUMNS = ("frame", "time_s", "track_id", "joint", "x", "y", "score", "source")


class OutputsError(ValueError):
    """A --csv / --per-track location that cannot be written."""


def _writable(what: str, path: Path, action):
    try:
        return action()
    except OSError as error:
        raise OutputsError(f"cannot write the {what} output {path} ({error.strerror}); choose a writable "
                           f"path") from None


@dataclass(frozen=True)
class Item:
    """What a sink needs to know of a video: its name (a run's work items have it too)."""

    name: str


def table_sinks(csv_path: str | None, per_track_dir: str | None, joint_threshold: float,
                several: bool = False) -> list:
    """The sinks for ``--csv`` / ``--per-track`` (none, one or both); ``several``: the run has several videos."""
    sinks: list = []
    if csv_path:
        sinks.append(CsvSink(csv_path, joint_threshold, several))
    if per_track_dir:
        sinks.append(PerTrackSink(per_track_dir, joint_threshold))
    return sinks


def pose_sources(tracked: TrackedFrame) -> list[str]:
    """Where each pose's box came from: ``detected``, ``propagated`` or ``given`` (no box stage: tracking-only)."""
    if tracked.box_sources is None:
        return ["given"] * len(tracked.poses)
    return [SOURCE_NAMES[int(code)] for code in tracked.box_sources]


class CsvSink:
    """One CSV per video. ``path``: the file for a single video; with ``several=True`` each video gets
    ``<stem>_<video name><suffix>`` beside it."""

    def __init__(self, path: str | Path, joint_threshold: float = 0.0, several: bool = False,
                 joints: tuple[str, ...] = POSETRACK18.joints):
        self.path = Path(path)
        self.joint_threshold = joint_threshold
        self.several = several
        self.joints = joints
        self._handle = None
        self._temporary: Path | None = None
        self._target: Path | None = None

    def start(self, item) -> None:
        name = self.path.name if not self.several else f"{self.path.stem}_{item.name}{self.path.suffix}"
        self._target = self.path.with_name(name)
        self._temporary = _writable("--csv", self._target, lambda: temporary_path(self._target, ".partial"))
        self._handle = open(self._temporary, "w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._handle)
        self._writer.writerow(CSV_COLUMNS)

    def add(self, tracked: TrackedFrame, frame=None) -> None:
        poses = tracked.poses
        time_s = "" if tracked.time_s is None else f"{tracked.time_s:.4f}"
        for n, (tid, source) in enumerate(zip(tracked.track_ids, pose_sources(tracked))):
            for j, joint in enumerate(self.joints):
                score = float(poses.scores[n, j])
                kept = score >= self.joint_threshold
                x, y = (f"{poses.keypoints[n, j, 0]:.2f}", f"{poses.keypoints[n, j, 1]:.2f}") if kept else ("", "")
                self._writer.writerow((tracked.index, time_s, int(tid), joint, x, y, f"{score:.4f}", source))

    def finish(self) -> Path:
        self._handle.close()
        publish(self._temporary, self._target)
        self._handle = None
        return self._target

    def abort(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._temporary.unlink(missing_ok=True)
            self._handle = None


class PerTrackSink:
    """One JSON per person: ``DIR/<video>/track_<id>.json`` (layout in the module docstring)."""

    def __init__(self, folder: str | Path, joint_threshold: float = 0.0,
                 joints: tuple[str, ...] = POSETRACK18.joints):
        self.folder = Path(folder)
        self.joint_threshold = joint_threshold
        self.joints = joints
        self._parts: Path | None = None
        self._name = ""

    def start(self, item) -> None:
        self._name = item.name
        parts = self.folder / f".{item.name}.partial"

        def make() -> None:
            self.folder.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(parts, ignore_errors=True)
            parts.mkdir()
        _writable("--per-track", self.folder, make)
        self._parts = parts

    def add(self, tracked: TrackedFrame, frame=None) -> None:
        poses = tracked.poses
        for n, (tid, source) in enumerate(zip(tracked.track_ids, pose_sources(tracked))):
            scores = poses.scores[n]
            kept = scores >= self.joint_threshold
            entry = {"frame": int(tracked.index), "time_s": None if tracked.time_s is None else
                     round(float(tracked.time_s), 4),
                     "box": [round(float(v), 2) for v in poses.boxes[n]],
                     "box_score": round(float(poses.box_scores[n]), 4), "source": source,
                     "keypoints": _joints(poses.keypoints[n], scores, kept)}
            if tracked.raw_keypoints is not None:
                entry["raw_keypoints"] = _joints(tracked.raw_keypoints[n], scores, kept)
            with open(self._parts / f"{int(tid)}.jsonl", "a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry, separators=(",", ":")) + "\n")

    def finish(self) -> Path:
        """Assemble each person's file (one at a time) into ``DIR/<video>/``; returns that folder."""
        target = self.folder / self._name
        staging = self.folder / f".{self._name}.done"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        for part in sorted(self._parts.glob("*.jsonl"), key=lambda p: int(p.stem)):
            frames = part.read_text(encoding="utf-8").rstrip("\n").replace("\n", ",")
            head = json.dumps({"video": self._name, "track_id": int(part.stem), "joints": list(self.joints)})
            (staging / f"track_{int(part.stem)}.json").write_text(f"{head[:-1]}, \"frames\": [{frames}]}}",
                                                                  encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
        shutil.rmtree(self._parts, ignore_errors=True)
        self._parts = None
        return target

    def abort(self) -> None:
        if self._parts is not None:
            shutil.rmtree(self._parts, ignore_errors=True)
            self._parts = None


def _joints(keypoints: np.ndarray, scores: np.ndarray, kept: np.ndarray) -> list:
    """[[x, y, score] per joint], ``null`` x, y where the joint is below the output threshold."""
    return [[round(float(x), 2), round(float(y), 2), round(float(s), 4)] if k else [None, None, round(float(s), 4)]
            for (x, y), s, k in zip(keypoints, scores, kept)]
