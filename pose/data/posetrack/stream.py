"""Write a PoseTrack prediction file frame by frame, so memory stays flat whatever the length of the video.

``open_stream(path, fmt)`` returns a writer for one sequence: ``add(frame)`` appends one ``FrameAnnotation``,
``close()`` publishes the finished file atomically under ``path``, ``abort()`` removes everything it wrote. Until
``close()`` the output folder holds only hidden temporary files (``.NAME.json.*.part``), so a crash or a SIGKILL
never leaves a file that looks complete; a new writer of the same file removes such leftovers.

The bytes are those :func:`pose.data.posetrack.write_sequence` writes for the whole sequence (each frame goes
through the same ``to_posetrack18_dict`` / ``to_posetrack21_dict`` / ``to_posetrack17_dict``, and ``json.dumps``
of a list is its items' ``json.dumps`` joined by ``", "``):

- 2018 and PoseTrack21 ``{"categories": [...], "images": [...], "annotations": [...]}``: the annotations stream
  straight into the output's temporary file; the image entries go to a second temporary file, one line each,
  split where ``nframes`` (the sequence length, known only at the end) goes; ``close()`` writes the images and
  appends the annotations.
- 2017 ``{"annolist": [...]}``: one entry per frame, streamed as it comes.

``WRITERS`` maps a ``--format`` name to its writer class; a new format is one more class with the same three
methods.
"""
from __future__ import annotations

import glob
import json
import os
import re
import shutil
from pathlib import Path

from pose.data.posetrack.checks import not_finite_error
from pose.data.posetrack.format2017 import to_posetrack17_dict
from pose.data.posetrack.format2018 import to_posetrack18_dict
from pose.data.posetrack.format21 import to_posetrack21_dict
from pose.data.posetrack.types import FrameAnnotation, PoseTrackSequence
from pose.fileio import publish, temporary_path

_FRAME_NUMBER = re.compile(r"[0-9]+(\..*)?\Z", re.DOTALL)  # the 2017 writer's imgnum rule (frame number + 1)
_SPLIT = "\t"  # never inside json.dumps output (control characters are escaped), so it can mark the nframes slot


def _dumps(obj, path: Path) -> str:
    try:
        return json.dumps(obj, allow_nan=False)
    except ValueError as exc:  # NaN or infinity: write_sequence's error, same sentence
        raise not_finite_error(path, exc) from None


class _StreamWriter:
    """Common part: a temporary ``.part`` file beside the target, published or removed at the end."""

    def __init__(self, path: str | os.PathLike, name: str):
        self.path = Path(path)
        self.name = name
        self.frames = 0
        for stale in self.path.parent.glob(f".{glob.escape(self.path.name)}.*.part"):
            stale.unlink(missing_ok=True)  # left by an earlier write of this file that was killed
        self._temporaries: list[Path] = []
        self._body = self._open_temporary()

    def _open_temporary(self):
        temporary = temporary_path(self.path, ".part")
        self._temporaries.append(temporary)
        return open(temporary, "w", encoding="utf-8")

    def _sequence(self, frame: FrameAnnotation) -> PoseTrackSequence:
        return PoseTrackSequence(self.name, [frame], "2018")

    def add(self, frame: FrameAnnotation) -> None:
        raise NotImplementedError

    def close(self) -> Path:
        raise NotImplementedError

    def _publish(self, final: Path) -> Path:
        publish(final, self.path)
        self.abort()  # removes the other temporaries
        return self.path

    def abort(self) -> None:
        """Close and remove every temporary file (nothing is left under the target's name)."""
        self._body.close()
        for temporary in self._temporaries:
            temporary.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        if kind is None:
            self.close()
        else:
            self.abort()


class PoseTrack2018Writer(_StreamWriter):
    """PoseTrack 2018 (COCO-like) file, streamed."""

    format = "2018"
    to_dict = staticmethod(to_posetrack18_dict)

    def __init__(self, path: str | os.PathLike, name: str):
        super().__init__(path, name)
        self._images = self._open_temporary()
        self._categories = None
        self._annotations_written = 0

    def add(self, frame: FrameAnnotation) -> None:
        obj = self.to_dict(self._sequence(frame))
        self._categories = obj["categories"]
        image = obj["images"][0]
        keys = list(image)
        cut = keys.index("nframes")
        head = _dumps({k: image[k] for k in keys[:cut]}, self.path)[1:-1]
        tail = _dumps({k: image[k] for k in keys[cut + 1:]}, self.path)[1:-1]
        self._images.write(f"{head}{_SPLIT}{tail}\n")
        for annotation in obj["annotations"]:
            if self._annotations_written:
                self._body.write(", ")
            self._body.write(_dumps(annotation, self.path))
            self._annotations_written += 1
        self.frames += 1

    def close(self) -> Path:
        self._body.close()
        self._images.close()
        categories = self._categories or self.to_dict(PoseTrackSequence(self.name, [], "2018"))["categories"]
        with self._open_temporary() as out:
            out.write(_dumps({"categories": categories}, self.path)[:-1] + ', "images": [')
            with open(self._temporaries[1], encoding="utf-8") as images:
                for n, line in enumerate(images):
                    head, tail = line.rstrip("\n").split(_SPLIT)
                    slot = f'"nframes": {self.frames}'
                    out.write((", " if n else "") + "{" + ", ".join(p for p in (head, slot, tail) if p) + "}")
            out.write('], "annotations": [')
            with open(self._temporaries[0], encoding="utf-8") as annotations:
                shutil.copyfileobj(annotations, out)
            out.write("]}")
        return self._publish(self._temporaries[2])


class PoseTrack21Writer(PoseTrack2018Writer):
    """PoseTrack21 file (the 2018 layout with ``person_id``, ``has_labeled_person``), streamed."""

    format = "21"
    to_dict = staticmethod(to_posetrack21_dict)


class PoseTrack2017Writer(_StreamWriter):
    """PoseTrack 2017 (``annolist``) file, streamed; the ears are dropped as the 2017 writer does."""

    format = "2017"

    def __init__(self, path: str | os.PathLike, name: str):
        super().__init__(path, name)
        self._body.write('{"annolist": [')

    def add(self, frame: FrameAnnotation) -> None:
        entry = to_posetrack17_dict(self._sequence(frame))["annolist"][0]
        match = _FRAME_NUMBER.match(os.path.basename(frame.file_name))
        if not match:  # the whole-sequence writer numbers such frames by position
            entry["imgnum"] = [self.frames + 1]
        self._body.write((", " if self.frames else "") + _dumps(entry, self.path))
        self.frames += 1

    def close(self) -> Path:
        self._body.write("]}")
        self._body.close()
        return self._publish(self._temporaries[0])


# --format name -> streaming writer class (each: __init__(path, name), add(FrameAnnotation), close(), abort()).
WRITERS: dict[str, type[_StreamWriter]] = {"2018": PoseTrack2018Writer, "2017": PoseTrack2017Writer,
                                           "21": PoseTrack21Writer}


def open_stream(path: str | os.PathLike, name: str, fmt: str = "2018") -> _StreamWriter:
    """A streaming writer of sequence ``name`` into ``path`` in format ``fmt`` (a key of ``WRITERS``)."""
    if fmt not in WRITERS:
        raise ValueError(f"unknown PoseTrack format {fmt!r}; use one of {', '.join(WRITERS)}")
    return WRITERS[fmt](path, name)
