"""Where tracked frames go as they are produced: one sink object per kind of output, fed frame by frame.

A sink follows one small protocol, so the run loop (``tracker.run``) treats all outputs alike:

    sink.start(item)        # a new video / sequence begins (``tracker.worklist.WorkItem``)
    sink.add(tracked, frame)  # one ``tracker.types.TrackedFrame`` and its decoded ``Frame``, in frame order
    sink.finish()           # the item is done: publish its files (atomically)
    sink.abort()            # the item failed or was interrupted: remove what was written for it

A sink keeps no per-frame arrays for the whole item: ``PoseTrackSink`` streams every frame into a hidden temporary
file that becomes ``OUT/<item output name>`` in ``finish()`` (``pose.data.posetrack.stream``), so memory is flat
whatever the length of the video, and an interrupted item leaves no file that looks complete.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from pose.data.posetrack import PoseTrackFormatError, posetrack_image_id, sequence_from_arrays
from pose.data.posetrack.stream import WRITERS, open_stream
from tracker.types import TrackedFrame

FORMATS = tuple(WRITERS)  # the PoseTrack formats a prediction can be written in


class PoseTrackSink:
    """PoseTrack predictions of each item, streamed to ``out / item.output`` in format ``fmt`` ("2018", "2017",
    "21", or "auto": the item's ground truth's format, else 2018).

    Per frame: the item's file name, image id and ``is_labeled`` (``WorkItem.frame_entry``), the poses with joints
    scoring below ``joint_threshold`` written absent. The file equals what ``pose.data.posetrack.write_sequence``
    writes for the whole sequence, byte for byte.
    """

    def __init__(self, out: str | Path, fmt: str = "2018", joint_threshold: float = 0.0):
        if fmt not in WRITERS and fmt != "auto":
            raise ValueError(f"unknown PoseTrack format {fmt!r}; use auto or one of {', '.join(WRITERS)}")
        self.out = Path(out)
        self.fmt = fmt
        self.joint_threshold = joint_threshold
        self._item = None
        self._writer = None

    def start(self, item) -> None:
        self._item = item
        fmt = self.fmt if self.fmt != "auto" else (item.source_format or "2018")
        self._writer = open_stream(self.out / item.output, item.name, fmt)

    def add(self, tracked: TrackedFrame, frame=None) -> None:
        index = self._writer.frames
        file_name, image_id, labeled = self._item.frame_entry(index)
        if image_id is None:  # poseval's id for PoseTrack names, else the frame index (as sequence_from_arrays)
            try:
                image_id = posetrack_image_id(file_name)
            except ValueError:
                image_id = index
        poses = tracked.poses
        one = sequence_from_arrays(self._item.name, [file_name], [poses.keypoints], [poses.scores],
                                   [tracked.track_ids], self.joint_threshold, [poses.boxes], [poses.box_scores],
                                   image_ids=[image_id], is_labeled=[labeled])
        self._writer.add(one.frames[0])

    @property
    def frames(self) -> int:
        """Frames written for the current item."""
        return 0 if self._writer is None else self._writer.frames

    def finish(self) -> Path:
        listed = self._item.file_names
        if listed is not None and self._writer.frames != len(listed):  # e.g. an image that ended the source early
            raise PoseTrackFormatError(f"{self._item.name}: {self._writer.frames} frames were tracked but the "
                                       f"sequence lists {len(listed)} images; check that every image is readable")
        path = self._writer.close()
        self._writer = None
        return path

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.abort()
            self._writer = None


def write_tracked(frames: Iterable[TrackedFrame], path: str | Path, name: str | None = None,
                  file_names: Sequence[str] | None = None, joint_threshold: float = 0.0, fmt: str = "2018") -> Path:
    """Write ``TrackedFrame``s (e.g. from ``tracker.track``) as one PoseTrack prediction file, streamed.

    name: the sequence name (default: the file stem); file_names: one per frame (default
    ``images/<name>/<frame:06d>.jpg``, as ``tracker.run`` names a video's frames).
    """
    from tracker.worklist import WorkItem

    path = Path(path)
    name = name or path.stem
    sink = PoseTrackSink(path.parent, fmt, joint_threshold)
    sink.start(WorkItem(name, path.name, 0, None, None if file_names is None else tuple(file_names)))
    try:
        for tracked in frames:
            sink.add(tracked)
        return sink.finish()
    except BaseException:
        sink.abort()
        raise


class OverlaySink:
    """Debugging overlays of each item: ``OUT/<name>_overlay.mp4`` and/or one PNG per frame in ``frames_root/<name>``.

    options: ``tracker.viz.render.RenderOptions`` (the frame rate is the item's); timer: the run's ``StageTimer`` (the
    overlay time is its ``overlay`` stage, the frame rate drawn is the run's).
    """

    def __init__(self, out: str | Path, options, timer, video: bool = True, frames_root: str | Path | None = None):
        self.out = Path(out)
        self.options = options
        self.timer = timer
        self.video = video
        self.frames_root = None if frames_root is None else Path(frames_root)
        self._writer = None

    def start(self, item) -> None:
        from dataclasses import replace

        from tracker.viz.overlay import OverlayWriter

        self._writer = OverlayWriter(replace(self.options, video_fps=item.fps),
                                     video_path=self.out / f"{item.name}_overlay.mp4" if self.video else None,
                                     fps=item.fps,
                                     frames_dir=None if self.frames_root is None else self.frames_root / item.name)

    def add(self, tracked: TrackedFrame, frame=None) -> None:
        with self.timer("overlay"):
            self._writer.write(frame.image, tracked, run_fps=self.timer.frames / max(self.timer.wall, 1e-9))

    def finish(self) -> None:
        self._writer.close()
        self._writer = None

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.abort()
            self._writer = None
