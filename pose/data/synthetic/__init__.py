"""Seeded synthetic multi-person videos with exact ground truth, in PoseTrack 2018 and COCO formats.

Each video is a scene: a procedural background canvas (gradients, multi-octave noise, buildings, trees,
poles, blobs, sometimes a crowd of tiny figures that is marked as an ignore region), a panning camera that slices
the canvas, and articulated people (``people``) who walk, run, wave or stand, enter and leave the
view, cross and occlude each other, sometimes behind foreground posts. Nearer people (lower on the ground plane)
are larger and drawn later.

Ground truth per frame (``FrameTruth``) is exact: keypoints are the projected joints of the drawn bodies.
Visibility follows COCO: 2 = visible, 1 = inside the image but hidden (behind a nearer person or a post, or a
face point turned away from the camera), 0 = outside the image (not labelled). A joint hidden by the person's own
body (an arm behind their torso) counts as visible, as COCO annotators label it. PoseTrack 2018 files keep only what an
annotator could click by default: joints with v = 2 get ``x, y, 1``; hidden joints are dropped (``0, 0, 0``)
unless ``posetrack_occluded="keep"`` writes them as ``x, y, 1`` too; ears are always ``0, 0, 0``.
People with no visible joint in a frame are not in that frame's ground truth.

Python API: ``generate_video(seed, frames, ...)`` yields ``(frame_rgb, FrameTruth)`` in memory;
``generate_dataset(out_dir, videos, frames, seed, ...)`` writes

    DIR/videos/<seq>.mp4
    DIR/images/<seq>/<frame:06d>.jpg
    DIR/annotations/<seq>.json         PoseTrack 2018 ground truth, one file per sequence
    DIR/coco/person_keypoints.json     COCO keypoints of the labelled frames of all sequences
    DIR/detections/<seq>.json          person boxes made from the ground truth with seeded detector-like noise
                                       (``DetectionNoise``), a COCO results list the tracker's ``file:`` detector
                                       reads: ``[{"image_id": frame index, "category_id": 1, "bbox": [x, y, w, h],
                                       "score"}]``

with ``<seq>`` = ``f"{first_id + i:06d}_mpii_test"`` so the official PoseTrack tools parse the names.
Command line: ``python -m pose.data.synthetic --out DIR --videos N --frames F --seed S`` (``--help`` for more;
``--det-jitter``, ``--det-miss``, ``--det-false`` set the detection noise). ``--set NAME`` writes ``detections/NAME/``,
``annotations/NAME/`` and ``coco/NAME.json`` instead (the PoseTrack training layout; the images stay in
``images/<seq>/``).

The detections are the ground-truth people's boxes with relative jitter, some people missed, some false boxes
with low-ish scores, and noisy scores; they come from a random stream of their own, so they never change the
frames or the ground truth, and the same seed gives byte-identical files.

Modules: ``scene`` (the scene, its frames and their ground truth), ``people`` (the articulated bodies),
``detections`` (noisy boxes from the ground truth), ``dataset`` (the files), ``cli`` (``python -m
pose.data.synthetic``).
"""
from pose.data.synthetic.cli import build_parser, main
from pose.data.synthetic.dataset import (
    coco_annotations,
    generate_dataset,
    image_id,
    posetrack_frame,
    posetrack_people,
    sequence_name,
    write_json_atomic,
)
from pose.data.synthetic.detections import (
    MAX_FALSE_POSITIVES,
    DetectionNoise,
    detection_records,
    detection_rng,
    noisy_detections,
)
from pose.data.synthetic.scene import (
    MAX_FRAMES,
    MAX_VIDEO_ID,
    OCCLUDER_SLOT,
    POSETRACK_IMAGE_ID_BASE,
    FrameTruth,
    Person,
    Scene,
    SyntheticDataError,
    VideoConfig,
    generate_video,
    make_background,
    make_scene,
    render_frame,
    video_rng,
)

__all__ = [
    "MAX_FALSE_POSITIVES", "MAX_FRAMES", "MAX_VIDEO_ID", "OCCLUDER_SLOT", "POSETRACK_IMAGE_ID_BASE", "DetectionNoise",
    "FrameTruth", "Person", "Scene", "SyntheticDataError", "VideoConfig", "build_parser", "coco_annotations",
    "detection_records", "detection_rng", "generate_dataset", "generate_video", "image_id", "main",
    "make_background", "make_scene", "noisy_detections", "posetrack_frame", "posetrack_people",
    "render_frame", "sequence_name", "video_rng", "write_json_atomic",
]
