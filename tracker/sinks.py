"""Where tracked frames go as they are produced: one sink object per kind of output, fed frame by frame.

A sink follows one small protocol, so the run loop (``tracker.run``) treats all outputs alike:

    sink.start(item)        # a new video / sequence begins (``tracker.worklist.WorkItem``)
    sink.add(tracked, frame)  # one ``tracker.types.TrackedFrame`` and its decoded ``Frame``, in frame order
    sink.finish()           # the item is done: publish its files (atomically)
    sink.abort()            # the item failed or was interrupted: remove what was written for it

A sink keeps no per-frame arrays for the whole item: ``PoseTrackSink`` streams every frame into a hidden temporary
file that becomes ``OUT/<item output name>`` in ``finish()`` (``pose.data.posetrack_stream``), so memory is flat
whatever the length of the video, and an interrupted item leaves no file that looks complete.
"""
from __future__ import annotations

from pathlib import Path

from pose.data.posetrack import posetrack_image_id, sequence_from_arrays
from pose.data.posetrack_stream import WRITERS, open_stream
from tracker.types import TrackedFrame

FORMATS = tuple(WRITERS)  # the PoseTrack formats a prediction can be written in


class PoseTrackSink:
    """PoseTrack predictions of each item, streamed to ``out / item.output`` in format ``fmt`` ("2018", "2017").

    Per frame: the item's file name, image id and ``is_labeled`` (``WorkItem.frame_entry``), the poses with joints
    scoring below ``joint_threshold`` written absent. The file equals what ``pose.data.posetrack.write_sequence``
    writes for the whole sequence, byte for byte.
    """

    def __init__(self, out: str | Path, fmt: str = "2018", joint_threshold: float = 0.0):
        if fmt not in WRITERS:
            raise ValueError(f"unknown PoseTrack format {fmt!r}; use one of {', '.join(WRITERS)}")
        self.out = Path(out)
        self.fmt = fmt
        self.joint_threshold = joint_threshold
        self._item = None
        self._writer = None

    def start(self, item) -> None:
        self._item = item
        self._writer = open_stream(self.out / item.output, item.name, self.fmt)

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
        path = self._writer.close()
        self._writer = None
        return path

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.abort()
            self._writer = None
