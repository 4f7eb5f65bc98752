"""PoseTrack annotations in memory (a sequence of frames of people, POSETRACK18 joint order), the format's
constants, its error, and poseval's image ids from file names."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import numpy as np

from pose.keypoints import POSETRACK17_JOINTS, POSETRACK18_JOINTS, POSETRACK18_PLACEHOLDERS


NUM_JOINTS = len(POSETRACK18_JOINTS)  # 17
# poseval asserts track_id < 10000 and adds 10000 * (file index) to make ids unique across files.
MAX_TRACK_ID = 10000
# poseval's posetrack18_fname2id: sequence types and their image-id digit.
SEQUENCE_TYPES = {"mpii": 1, "bonn": 2, "mpiinew": 3}
ROLES = ("gt", "pred", "any")

# Index in POSETRACK18 of every 2017 joint id (poseval's 15-joint order).
_P17_TO_P18 = np.array([POSETRACK18_JOINTS.index(name) for name in POSETRACK17_JOINTS], dtype=np.int64)
# 2017 id of every POSETRACK18 joint, -1 for the ears.
_P18_TO_P17 = np.array(
    [POSETRACK17_JOINTS.index(n) if n in POSETRACK17_JOINTS else -1 for n in POSETRACK18_JOINTS], dtype=np.int64
)
_P17_TO_P18_LIST = _P17_TO_P18.tolist()
_PLACEHOLDER_IDX = np.array([POSETRACK18_JOINTS.index(n) for n in POSETRACK18_PLACEHOLDERS], dtype=np.int64)

# The category official PoseTrack18 files carry (poseval convert.py writes the same skeleton, 1-based).
_SKELETON_18 = [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8], [7, 9],
                [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7]]

_SEQ_DIR_RE = re.compile(r"([0-9]+)_(mpii|bonn|mpiinew)(_.*)?\Z", re.DOTALL)
_FRAME_RE = re.compile(r"([0-9]+)(\..*)?\Z", re.DOTALL)

# Keys each reader models; everything else of an object goes to ``extra``.
_IMAGE18_KEYS = {"file_name", "id", "is_labeled", "ignore_regions_x", "ignore_regions_y"}
_ANN18_KEYS = {"image_id", "track_id", "keypoints", "scores", "bbox_head", "bbox", "score"}
_FRAME17_KEYS = {"image", "annorect", "is_labeled", "ignore_regions"}
_RECT17_KEYS = {"track_id", "annopoints", "x1", "y1", "x2", "y2", "score"}


class PoseTrackFormatError(ValueError):
    """A PoseTrack file that cannot be used; the message names the file, the frame and the field."""

    def __init__(self, message: str, path: str | os.PathLike | None = None, frame_index: int | None = None,
                 file_name: str | None = None, field: str | None = None):
        super().__init__(message)
        self.path = None if path is None else str(path)
        self.frame_index = frame_index
        self.file_name = file_name
        self.field = field


@dataclass
class PersonAnnotation:
    """One person in one frame.

    keypoints: (17, 3) float64 ``x, y, v`` in POSETRACK18 order; absent joints are ``0, 0, 0``.
    scores: (17,) float64 per-joint confidence, or None (ground truth).
    head_box: (4,) ``x1, y1, x2, y2`` or None. bbox: (4,) ``x, y, w, h`` or None. score: person score or None.
    listed: (17,) bool or None. Set only for a 2017 person listing a point at ``x = y = 0`` with
    ``is_visible`` 0: poseval reads 2017 files without converting them, so such a point counts although its
    keypoint row is ``0, 0, 0``. None means "the joints that are not ``0, 0, 0``".
    scored: (17,) bool or None. Set only for a 2017 person some of whose points have a ``score`` and some not:
    the joints that have one (the others hold 0 in ``scores``; poseval ranks them at -9999). None means
    "every joint", when ``scores`` is set.
    """

    track_id: int
    keypoints: np.ndarray
    scores: np.ndarray | None = None
    head_box: np.ndarray | None = None
    bbox: np.ndarray | None = None
    score: float | None = None
    extra: dict = field(default_factory=dict)
    listed: np.ndarray | None = None
    scored: np.ndarray | None = None

    @property
    def present(self) -> np.ndarray:
        """(17,) bool: joints poseval counts (anything but ``0, 0, 0``, or the ``listed`` joints of 2017)."""
        if self.listed is not None:
            return np.asarray(self.listed, dtype=bool)
        return np.any(self.keypoints != 0, axis=1)


@dataclass
class FrameAnnotation:
    """One image of a sequence. ignore_regions: polygons, each (M, 2) float64 ``x, y``.

    extra: the image's other fields (2018: ``frame_id``, ``vid_id``, ``nframes``, ``has_no_densepose``,
    ``width``, ``mask_file``...; 2017: ``imgnum`` and any other key, with other keys of ``image[0]`` under
    ``"image_extra"``). A person's ``extra`` likewise keeps ``id``, ``category_id``, ``iscrowd``, an empty
    ``scores`` list of ground truth, and so on.
    """

    file_name: str
    image_id: int
    is_labeled: bool
    people: list[PersonAnnotation] = field(default_factory=list)
    ignore_regions: list[np.ndarray] = field(default_factory=list)
    extra: dict = field(default_factory=dict)


@dataclass
class PoseTrackSequence:
    """One video sequence (one file). name: the file stem, e.g. ``000342_mpii_test``."""

    name: str
    frames: list[FrameAnnotation]
    source_format: str = "2018"  # "2017" | "2018": the format ``extra`` fields belong to
    extra: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------------------
# File names and image ids (poseval's posetrack18_fname2id)
# ----------------------------------------------------------------------------------------------------------

def parse_file_name(file_name: str) -> tuple[str, int, str, int]:
    """``.../000342_mpii_test/000002.jpg`` -> ``("000342_mpii_test", 342, "mpii", 2)``.

    Raises ValueError (a plain sentence, without the file context) when poseval could not parse it.
    """
    folder = os.path.basename(os.path.dirname(file_name))
    match = _SEQ_DIR_RE.match(folder)
    if match is None:
        raise ValueError(
            f"its folder {folder!r} is not '<digits>_<mpii|bonn|mpiinew>[_...]' as poseval requires")
    frame = _FRAME_RE.match(os.path.basename(file_name))
    if frame is None or int(frame.group(1)) >= 10000:
        raise ValueError(f"its base name {os.path.basename(file_name)!r} is not '<frame number below 10000>.jpg' "
                         "as poseval requires")
    return folder, int(match.group(1)), match.group(2), int(frame.group(1))


def posetrack_image_id(file_name: str) -> int:
    """The image id poseval derives from a file name: type * 1e10 + video number * 1e4 + frame number."""
    _, video, kind, frame = parse_file_name(file_name)
    return SEQUENCE_TYPES[kind] * 10_000_000_000 + video * 10_000 + frame
