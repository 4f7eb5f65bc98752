"""Frame sources for the tracker: video files, PoseTrack image-sequence folders and iterables of RGB arrays.

Every source streams: it decodes one frame at a time and keeps only that frame, so memory stays flat whatever the
length of the video. ``open_source`` picks the source from what it is given:

- a video file: decoded by decord, or PyAV where decord cannot open the file, or OpenCV where neither can;
- a folder of ``.jpg`` / ``.jpeg`` / ``.png`` images (a PoseTrack sequence): frames in sorted file-name order;
- any iterable of ``(H, W, 3)`` uint8 RGB arrays.

A source is iterated for ``tracker.types.Frame`` objects and has ``info`` (fps, size, frame count). Problems the user
can fix (missing file, not a video, no frames) raise ``VideoError`` with one sentence naming the file.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tracker.types import Frame

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


class VideoError(ValueError):
    """A frame source that cannot be read; the message names the file and what to do."""


@dataclass(frozen=True)
class VideoInfo:
    """What is known about a source before decoding it.

    fps: frames per second (0.0 where unknown: image folders, arrays); width, height: frame size in pixels;
    num_frames: the container's or folder's frame count (None where unknown, e.g. a generator); name: the video id
    used for output file names (file stem or folder name); backend: the decoder that reads it.
    """

    name: str
    fps: float
    width: int
    height: int
    num_frames: int | None
    backend: str


# ----------------------------------------------------------------------------------------------------------------
# Video-file decoders. Each is a generator of (H, W, 3) uint8 RGB arrays plus a metadata probe; opening raises
# whatever the library raises, and ``VideoFileSource`` turns failures into the next fallback or a VideoError.


def _open_decord(path: Path):
    import decord

    reader = decord.VideoReader(str(path), ctx=decord.cpu(0))
    count = len(reader)
    height, width = reader[0].shape[:2] if count else (0, 0)
    reader.seek(0)

    def frames() -> Iterator[np.ndarray]:
        for _ in range(count):
            try:
                yield reader.next().asnumpy()
            except StopIteration:
                return

    return float(reader.get_avg_fps()), width, height, count, frames


def _open_pyav(path: Path):
    import av

    container = av.open(str(path))
    if not container.streams.video:
        container.close()
        raise ValueError("no video stream")
    stream = container.streams.video[0]
    fps = float(stream.average_rate) if stream.average_rate else 0.0
    width, height = stream.codec_context.width, stream.codec_context.height
    count = int(stream.frames) or None

    def frames() -> Iterator[np.ndarray]:
        try:
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24")
        finally:
            container.close()

    return fps, width, height, count, frames


def _open_opencv(path: Path):
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError("OpenCV cannot open it")
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None

    def frames() -> Iterator[np.ndarray]:
        try:
            while True:
                ok, bgr = capture.read()
                if not ok:
                    return
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            capture.release()

    return fps, width, height, count, frames


BACKENDS = {"decord": _open_decord, "pyav": _open_pyav, "opencv": _open_opencv}


@contextlib.contextmanager
def _native_stderr_silenced():
    """Silence what the C libraries (FFmpeg, decord) print to file descriptor 2 while a decoder probes a file:
    a file the first decoder rejects is not an error for the user when a fallback reads it."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable descriptor 2 (embedded interpreters): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class VideoFileSource:
    """Frames of a video file, decoded one at a time.

    backends: decoders to try in order; the first that opens the file and decodes its first frame is used (decord
    fails on some containers, PyAV and OpenCV then take over).
    """

    def __init__(self, path: str | Path, backends: tuple[str, ...] = ("decord", "pyav", "opencv")):
        self.path = Path(path)
        if not self.path.exists():
            raise VideoError(f"video file {self.path} does not exist; check the path")
        if not self.path.is_file():
            raise VideoError(f"{self.path} is not a file; give a video file or a folder of images")
        unknown = set(backends) - set(BACKENDS)
        if unknown:
            raise VideoError(f"unknown video backend(s) {sorted(unknown)}; choose from {sorted(BACKENDS)}")
        self._backends = tuple(backends)
        self.info = self._probe()

    def _probe(self) -> VideoInfo:
        """Open with the first backend that decodes a frame; remember it for iteration."""
        zero_frames = False
        for name in self._backends:
            try:
                with _native_stderr_silenced():
                    fps, width, height, count, frames = BACKENDS[name](self.path)
                    iterator = frames()
                    first = next(iterator, None)
                    iterator.close()
            except Exception:  # noqa: BLE001 - any decoder failure means "try the next one"
                continue
            if first is None:
                zero_frames = True
                continue
            self._backend = name
            return VideoInfo(self.path.stem, fps, first.shape[1], first.shape[0], count, name)
        if zero_frames:
            raise VideoError(f"video {self.path} has no frames; give a video with at least one frame")
        raise VideoError(
            f"{self.path} is not a video that decord, PyAV or OpenCV can decode; give an mp4/avi/mkv file "
            f"or a folder of images"
        )

    def __iter__(self) -> Iterator[Frame]:
        _, _, _, _, frames = BACKENDS[self._backend](self.path)
        for index, image in enumerate(frames()):
            yield Frame(index, np.ascontiguousarray(image), self.info.name)


class ImageFolderSource:
    """The images of a folder (a PoseTrack sequence) in sorted file-name order, or an explicit list of files.

    files: the image paths to read in order (submission mode gives the ground truth's list); default: every
    ``.jpg``/``.jpeg``/``.png`` in ``folder``.
    """

    def __init__(self, folder: str | Path, files: list[str | Path] | None = None, fps: float = 0.0):
        self.folder = Path(folder)
        if files is None:
            if not self.folder.is_dir():
                raise VideoError(f"image folder {self.folder} does not exist; check the path")
            files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise VideoError(f"folder {self.folder} holds no .jpg or .png images; give a folder of frames")
        self.files = [Path(f) for f in files]
        if not self.files:
            raise VideoError(f"no images given for {self.folder}; give at least one frame")
        first = self._read(self.files[0])
        self.info = VideoInfo(self.folder.name, fps, first.shape[1], first.shape[0], len(self.files), "images")

    @staticmethod
    def _read(path: Path) -> np.ndarray:
        if not path.exists():
            raise VideoError(f"image {path} does not exist; check the image root folder")
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise VideoError(f"{path} is not an image OpenCV can read; replace or remove it")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def __iter__(self) -> Iterator[Frame]:
        for index, path in enumerate(self.files):
            yield Frame(index, self._read(path), self.info.name)


class ArraySource:
    """Frames from an iterable of (H, W, 3) uint8 RGB arrays (or ``Frame`` objects), consumed lazily.

    A generator can be iterated once; lists and other re-iterable containers any number of times.
    """

    def __init__(self, arrays: Iterable, name: str = "frames", fps: float = 0.0):
        self._arrays = arrays
        count = len(arrays) if hasattr(arrays, "__len__") else None
        if count == 0:
            raise VideoError("the frame list is empty; give at least one (H, W, 3) uint8 RGB array")
        first = _peek_shape(arrays)
        width, height = (first[1], first[0]) if first else (0, 0)
        self.info = VideoInfo(name, fps, width, height, count, "arrays")

    def __iter__(self) -> Iterator[Frame]:
        produced = 0
        for index, item in enumerate(self._arrays):
            image = item.image if isinstance(item, Frame) else item
            image = np.asarray(image)
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise VideoError(
                    f"frame {index} is {image.dtype} {image.shape}; frames must be (H, W, 3) uint8 RGB arrays"
                )
            produced += 1
            yield Frame(index, np.ascontiguousarray(image), self.info.name)
        if produced == 0:
            raise VideoError("the frame iterable yielded no frames; give at least one (H, W, 3) uint8 RGB array")


def _peek_shape(arrays) -> tuple[int, ...] | None:
    """The first frame's shape for indexable containers (generators are not consumed to find it)."""
    if hasattr(arrays, "__getitem__") and hasattr(arrays, "__len__") and len(arrays):
        item = arrays[0]
        return tuple(np.shape(item.image if isinstance(item, Frame) else item))
    return None


def open_source(source, max_frames: int | None = None):
    """A frame source for a video path, an image folder, an iterable of RGB arrays, or an existing source.

    Returns an object with ``info`` (VideoInfo) that iterates ``Frame``s; ``max_frames`` stops after that many.
    """
    if isinstance(source, (VideoFileSource, ImageFolderSource, ArraySource, LimitedSource)):
        opened = source
    elif isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir():
            opened = ImageFolderSource(path)
        else:
            opened = VideoFileSource(path)
    elif isinstance(source, np.ndarray) and source.ndim == 4:
        opened = ArraySource(list(source))
    elif isinstance(source, Iterable):
        opened = ArraySource(source)
    else:
        raise VideoError(
            f"cannot read frames from a {type(source).__name__}; give a video path, an image folder or an "
            f"iterable of (H, W, 3) uint8 RGB arrays"
        )
    if max_frames is not None:
        return LimitedSource(opened, max_frames)
    return opened


class LimitedSource:
    """The first ``max_frames`` frames of another source (decoding stops there)."""

    def __init__(self, source, max_frames: int):
        if max_frames < 1:
            raise VideoError(f"max_frames must be at least 1, got {max_frames}")
        self.source = source
        self.max_frames = int(max_frames)
        info = source.info
        count = min(info.num_frames, self.max_frames) if info.num_frames is not None else None
        self.info = VideoInfo(info.name, info.fps, info.width, info.height, count, info.backend)

    def __iter__(self) -> Iterator[Frame]:
        yield from itertools.islice(self.source, self.max_frames)
