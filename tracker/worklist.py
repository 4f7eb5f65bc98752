"""The work of a run: which videos / sequences, what each is called, and which of them this process does.

- ``expand_inputs(values)``: what ``--video`` takes (several files, a folder of videos, a glob, a text file with one
  path a line, or a folder of frames) -> the list of inputs, in a stable order.
- ``WorkItem``: one video or sequence: its frame source, its output file name, its frame count, and the file name,
  image id and ``is_labeled`` of each frame as the prediction file lists them (``frame_entry``).
- ``video_items``, ``sequence_items``: work items for ``--video`` inputs and for submission mode (one per
  ground-truth file, with the ground truth's names, ids and labels).
- ``shard(items, rank, world_size)``: the share of one rank: a deterministic split balanced by frame count (the
  longest item first onto the least-loaded rank), the same on every rank, so that every item is done exactly once.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from tracker.video import IMAGE_SUFFIXES, VideoError, open_source

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")
LIST_SUFFIXES = (".txt", ".lst", ".list")
_GLOB_CHARS = "*?["


@dataclass(frozen=True)
class WorkItem:
    """One video or sequence of a run.

    name: the video / sequence name (file stem or folder name); output: its prediction file name in the output
    folder; frames: its number of frames (after ``--max-frames``; balances the shards); source: what
    ``tracker.video.open_source`` opens (a video path, a frame folder, or a list of image paths);
    file_names / image_ids / is_labeled: per frame, as the prediction lists them (submission mode: the ground
    truth's; None: ``images/<name>/<frame:06d>.jpg`` for a video, ``images/<name>/<file>`` for frame files,
    poseval's image id or the frame index, labelled); reference: the ground-truth file the prediction must
    match (submission mode) or None; fps: the video's frame rate (0 where unknown); max_frames: where a video is
    cut (``--max-frames``); poses_file: tracking-only mode, the file of untracked poses (read when the item runs);
    source_format: the PoseTrack format of its ground truth ("2017", "2018", "21"; "" without one).
    """

    name: str
    output: str
    frames: int
    source: object
    file_names: tuple[str, ...] | None = None
    image_ids: tuple | None = None
    is_labeled: tuple[bool, ...] | None = None
    reference: Path | None = None
    fps: float = 0.0
    max_frames: int | None = None
    poses_file: Path | None = None
    source_format: str = ""

    def frame_entry(self, index: int) -> tuple[str, int | None, bool]:
        """(file name, image id or None for the default, is_labeled) of frame ``index``."""
        if self.file_names is not None:
            ids = self.image_ids
            return (self.file_names[index], None if ids is None else ids[index],
                    True if self.is_labeled is None else bool(self.is_labeled[index]))
        if isinstance(self.source, (list, tuple)):
            return f"images/{self.name}/{Path(self.source[index]).name}", None, True
        return f"images/{self.name}/{index:06d}.jpg", None, True

    def open(self):
        """The frame source (``tracker.video``), or None for an item without frames (tracking-only mode)."""
        from tracker.video import ImageFolderSource

        if self.source is None:
            return None
        if isinstance(self.source, (list, tuple)):
            return ImageFolderSource(self.name, files=list(self.source))
        return open_source(self.source, self.max_frames)


def _is_video(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES


def _read_list(path: Path) -> list[Path]:
    """The paths of a text file, one a line (blank lines and ``#`` comments skipped; relative to the cwd)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise VideoError(f"cannot read the list of inputs {path} ({error}); give a text file with one path a line")
    paths = [Path(line.strip()) for line in lines if line.strip() and not line.strip().startswith("#")]
    if not paths:
        raise VideoError(f"the list of inputs {path} names no file; write one path a line")
    return paths


def _expand_one(value: str) -> list[Path]:
    path = Path(value)
    if path.is_dir():
        videos = sorted(p for p in path.iterdir() if _is_video(p))
        if videos:
            return videos
        if any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir()):
            return [path]  # a folder of frames is one video
        raise VideoError(f"folder {path} holds no videos ({', '.join(VIDEO_SUFFIXES[:4])}, ...) and no .jpg/.png "
                         f"frames; give a video, a folder of videos or a folder of frames")
    if path.is_file() and path.suffix.lower() in LIST_SUFFIXES:
        return _read_list(path)
    if not path.exists() and any(c in value for c in _GLOB_CHARS):
        matches = sorted(Path(p) for p in glob.glob(value) if Path(p).is_file() or Path(p).is_dir())
        if not matches:
            raise VideoError(f"the pattern {value} matches no file; check it (quote it so that the shell does not "
                             f"expand it first)")
        return matches
    return [path]


def expand_inputs(values: list[str]) -> list[Path]:
    """The videos / frame folders named by ``--video`` values, each once, in the given order (folders and globs
    sorted). Two inputs with the same name would write the same output file: ``VideoError``."""
    paths: list[Path] = []
    for value in values:
        paths.extend(_expand_one(value))
    seen: dict[str, Path] = {}          # output name -> the input that takes it
    taken: set[str] = set()             # absolute paths already in the list
    unique = []
    for path in paths:
        key = os.path.abspath(path)
        if key in taken:
            continue
        name = path.stem if path.is_file() or not path.exists() else path.name
        if name in seen:
            raise VideoError(f"two inputs are both called {name} ({seen[name]} and {path}), so their predictions "
                             f"would overwrite each other; rename one or run them into different --out folders")
        seen[name] = path
        taken.add(key)
        unique.append(path)
    return unique


def video_items(paths: list[Path], max_frames: int | None = None) -> list[WorkItem]:
    """One item per video or frame folder (opened once here, so an unreadable input fails before any work)."""
    items = []
    for path in paths:
        opened = open_source(path, max_frames)
        info = opened.info
        frames = info.num_frames if info.num_frames is not None else 0
        items.append(WorkItem(info.name, f"{info.name}.json", frames, _frames_of(opened, path, frames), fps=info.fps,
                              max_frames=max_frames))
    return items


def _frames_of(opened, path: Path, count: int):
    """What a work item opens again: the first ``count`` frame files of a frame folder (they keep their names),
    else the video's path."""
    folder = getattr(opened, "source", opened)  # --max-frames wraps the source
    return tuple(folder.files[:count]) if hasattr(folder, "files") else path


def sequence_items(sequences: list[tuple[Path, object]], image_root: Path, max_frames: int | None = None
                   ) -> list[WorkItem]:
    """Submission mode: one item per (ground-truth file, ``PoseTrackSequence``), named and listed like it."""
    items = []
    for path, gt in sequences:
        frames = gt.frames[:max_frames] if max_frames else gt.frames
        items.append(WorkItem(gt.name, path.name, len(frames), tuple(image_root / f.file_name for f in frames),
                              tuple(f.file_name for f in frames), tuple(f.image_id for f in frames),
                              tuple(bool(f.is_labeled) for f in frames), None if max_frames else path,
                              source_format=gt.source_format))
    return items


def expand_poses(values: list[str]) -> list[Path]:
    """The poses files named by ``--poses`` values: files, folders of ``.json``, globs or text lists of paths."""
    paths: list[Path] = []
    for value in values:
        path = Path(value)
        if path.is_dir():
            found = sorted(path.glob("*.json"))
            if not found:
                raise VideoError(f"folder {path} holds no .json poses files; give PoseTrack 2018 poses files")
            paths.extend(found)
        elif path.suffix.lower() in LIST_SUFFIXES and path.is_file():
            paths.extend(_read_list(path))
        elif not path.exists() and any(c in value for c in _GLOB_CHARS):
            paths.extend(_expand_one(value))
        else:
            paths.append(path)
    return list(dict.fromkeys(paths))


def poses_items(paths: list[Path], image_root: Path | None = None, video: Path | None = None,
                max_frames: int | None = None) -> list[WorkItem]:
    """Tracking-only mode: one item per poses file (read here to check it; its poses are read again when the item
    runs). Frames: none, the files' images under ``image_root``, or (one poses file) a video or frame folder."""
    from tracker.poses_input import read_untracked_poses

    items = []
    length = open_source(video).info.num_frames if video is not None else None
    for path in paths:
        untracked = read_untracked_poses(path, length)      # COCO results: padded to the video's length
        count = len(untracked.file_names) if max_frames is None else min(max_frames, len(untracked.file_names))
        source, fps = None, 0.0
        if video is not None:
            opened = open_source(video, count)
            source, fps = _frames_of(opened, Path(video), count), opened.info.fps
        elif image_root is not None:
            source = tuple(Path(image_root) / f for f in untracked.file_names[:count])
        items.append(WorkItem(untracked.name, f"{untracked.name}.json", count, source,
                              tuple(untracked.file_names[:count]), tuple(untracked.image_ids[:count]),
                              tuple(untracked.is_labeled[:count]), fps=fps, max_frames=count, poses_file=path))
    return items


def shard(items: list[WorkItem], rank: int, world_size: int) -> list[WorkItem]:
    """The items of ``rank`` out of ``world_size``: longest-first onto the rank with the fewest frames so far (ties:
    the lower rank), in the work list's order. Every rank computes the same split from the same list."""
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is outside 0..{world_size - 1}")
    load = [0] * world_size
    owner = {}
    for index in sorted(range(len(items)), key=lambda i: (-items[i].frames, items[i].output)):
        target = min(range(world_size), key=lambda r: (load[r], r))
        owner[index] = target
        load[target] += max(items[index].frames, 1)
    return [item for index, item in enumerate(items) if owner[index] == rank]
