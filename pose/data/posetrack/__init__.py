"""PoseTrack 2017 (``annolist``) and 2018 (COCO-like) annotation files: read, validate, write, convert.

One file holds one video sequence. Training, the tracker and the evaluator all go through this package, so
a file that reads here is one the official evaluator (poseval) accepts, and what the writers produce is
what poseval expects:

- 2018: ``images`` (``file_name``, ``id``, ``frame_id``, ``vid_id``, ``nframes``, ``is_labeled``,
  ``ignore_regions_x/_y``), ``annotations`` (``image_id``, ``track_id``, ``keypoints`` flat ``x, y, v`` per
  joint, ``scores`` per joint for predictions, ``bbox_head`` ``[x, y, w, h]`` for ground truth, ``bbox``)
  and ``categories`` (one ``person`` category naming the keypoints).
- 2017: ``annolist`` of frames (``image[0].name``, ``imgnum``, ``is_labeled``, ``ignore_regions``), each with
  ``annorect`` persons (``track_id``, head box ``x1 y1 x2 y2``, ``annopoints[0].point`` with joint ``id`` in
  poseval's 15-joint order, ``x``, ``y``, ``is_visible`` or ``score``).

In memory a sequence is a :class:`PoseTrackSequence` of :class:`FrameAnnotation` of
:class:`PersonAnnotation`, keypoints always ``(17, 3)`` ``x, y, v`` in ``pose.keypoints.POSETRACK18`` order.
A joint is *absent* when it is ``0, 0, 0`` (poseval drops exactly those; ``v == 0`` with non-zero
coordinates still counts). Fields the reader does not model stay in ``extra`` and are written back when the
sequence is written in its own format; converting to the other format keeps every field poseval reads.

What each role requires (poseval's own requirements, plus the ones that make a valid submission):

==================  =====================================================================================
always              a JSON object; 2018: ``images`` (non-empty), ``annotations``, one ``person`` category
                    whose keypoint names are the 17 (or 15) PoseTrack names; every image a ``file_name``
                    of the form ``.../<digits>_<mpii|bonn|mpiinew>[_...]/<int>.jpg`` (poseval parses it),
                    one sequence folder per file, unique image ids; every person an integer
                    ``track_id < 10000`` (poseval asserts ``< 10000`` and offsets ids by 10000 per
                    file; negative ids pass there too), unique within its frame; 3 numbers per
                    keypoint, finite.
``role="gt"``       a head box (2018 ``bbox_head``, 2017 ``x1 y1 x2 y2``) on every person with an annotated
                    joint (poseval's head size normalises every distance).
``role="pred"``     per-joint scores on every person with an evaluated joint: 2018 ``scores`` with one
                    number per keypoint name, 2017 ``score`` on every point. poseval itself only
                    warns ("this will not be a valid submission") and ranks score-less joints at
                    -9999, which makes AP meaningless, so this reader refuses them. A non-empty
                    ``scores`` list of another length would crash poseval: refused in every role.
``role="any"``      only the checks of "always"; scores and head boxes are validated when present.
==================  =====================================================================================

``python -m pose.data.posetrack check FILE...`` validates files and ``convert SRC DST --format 2017|2018``
converts one file (or every ``*.json`` of a folder); ``--format 21`` and PoseTrack21 input go through
``format21``.

Modules: ``types`` (the dataclasses, constants, the error), ``checks`` (validation shared by the readers),
``format2018`` / ``format2017`` / ``format21`` (each format's reader beside its writer), ``files`` (read / write / convert),
``arrays`` (predictions from arrays), ``cli`` (``python -m pose.data.posetrack``).
"""
from pose.data.posetrack.arrays import people_from_arrays, sequence_from_arrays
from pose.data.posetrack.checks import check_prediction_matches_gt
from pose.data.posetrack.cli import main
from pose.data.posetrack.files import convert_file, read_sequence, read_sequence_dir, write_sequence
from pose.data.posetrack.format2017 import to_posetrack17_dict
from pose.data.posetrack.format2018 import to_posetrack18_dict
from pose.data.posetrack.types import (
    MAX_TRACK_ID,
    NUM_JOINTS,
    ROLES,
    SEQUENCE_TYPES,
    FrameAnnotation,
    PersonAnnotation,
    PoseTrackFormatError,
    PoseTrackSequence,
    parse_file_name,
    posetrack_image_id,
)

__all__ = [
    "MAX_TRACK_ID", "NUM_JOINTS", "ROLES", "SEQUENCE_TYPES", "FrameAnnotation", "PersonAnnotation",
    "PoseTrackFormatError", "PoseTrackSequence", "check_prediction_matches_gt", "convert_file", "main",
    "parse_file_name", "people_from_arrays", "posetrack_image_id", "read_sequence", "read_sequence_dir",
    "sequence_from_arrays", "to_posetrack17_dict", "to_posetrack18_dict", "write_sequence",
]
