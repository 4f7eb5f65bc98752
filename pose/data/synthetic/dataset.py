"""Writing a synthetic dataset: videos, JPEG frames, PoseTrack 2018 ground truth, COCO keypoints, detections."""
from __future__ import annotations

import json
import os
import queue
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from pose.data.synthetic.detections import (
    DetectionNoise,
    check_noise,
    detection_records,
    detection_rng,
    noisy_detections,
)
from pose.data.synthetic.scene import (
    FrameTruth,
    MAX_VIDEO_ID,
    POSETRACK_IMAGE_ID_BASE,
    Scene,
    SyntheticDataError,
    VideoConfig,
    check_config,
    check_frames,
    round2,
    make_scene,
    render_frame,
    video_rng,
)
from pose.data.posetrack import FrameAnnotation, PersonAnnotation, PoseTrackSequence, write_sequence
from pose.fileio import write_text_atomic
from pose.keypoints import COCO17


def sequence_name(video_id: int) -> str:
    return f"{video_id:06d}_mpii_test"


def image_id(video_id: int, frame: int) -> int:
    """PoseTrack 2018's image id: the digit 1, the 6-digit video id and the 4-digit frame index."""
    return POSETRACK_IMAGE_ID_BASE + video_id * 10000 + frame


def _categories(layout, supercategory: str = "person") -> list[dict]:
    # The 1-based COCO skeleton.
    skeleton = [[a + 1, b + 1] for a, b in COCO17.skeleton]
    return [{"supercategory": supercategory, "id": 1, "name": "person", "keypoints": list(layout.joints),
             "skeleton": skeleton}]


def posetrack_frame(video_id: int, frame: int, nframes: int, truth: FrameTruth, labeled: bool,
                    size: tuple[int, int], occluded: str = "drop") -> FrameAnnotation:
    """One frame of the PoseTrack 2018 ground truth (``pose.data.posetrack`` writes it): the image, and when
    ``labeled`` its people (see the package docstring for the joint rule) and ignore regions."""
    seq = sequence_name(video_id)
    img = image_id(video_id, frame)
    extra = {"has_no_densepose": True, "nframes": nframes, "frame_id": img, "vid_id": f"{video_id:06d}",
             "width": size[0], "height": size[1]}
    if not labeled:
        return FrameAnnotation(f"images/{seq}/{frame:06d}.jpg", img, False, extra=extra)
    regions = [_rounded(p) for p in truth.ignore_regions]
    return FrameAnnotation(f"images/{seq}/{frame:06d}.jpg", img, True, posetrack_people(img, truth, occluded),
                           regions, extra)


def _rounded(values) -> np.ndarray:
    """``round2`` keeping the array's shape."""
    values = np.asarray(values, np.float64)
    return np.array(round2(values.ravel()), np.float64).reshape(values.shape)


def _xywh(box) -> list:
    x1, y1, x2, y2 = box
    return [x1, y1, x2 - x1, y2 - y1]


def posetrack_people(img: int, truth: FrameTruth, occluded: str = "drop") -> list[PersonAnnotation]:
    """The annotated people of one labelled frame: joints with v = 2 (and hidden ones, v = 1, when ``occluded`` is
    "keep") as ``x, y, 1``, the others ``0, 0, 0``; people with no such joint are left out."""
    keep_level = 1 if occluded == "keep" else 2
    people = []
    for n in range(len(truth.track_ids)):
        kept = truth.posetrack_visibility[n] >= keep_level
        if not kept.any():
            continue
        keypoints = np.zeros((len(kept), 3))
        keypoints[kept, :2] = _rounded(truth.posetrack_keypoints[n, kept])
        keypoints[kept, 2] = 1
        hx, hy, hw, hh = round2(_xywh(truth.head_boxes[n]))  # x, y, w, h to 1/100 px, as the file holds them
        people.append(PersonAnnotation(
            int(truth.track_ids[n]), keypoints, head_box=np.array([hx, hy, hx + hw, hy + hh]),
            bbox=np.array(round2(_xywh(truth.boxes[n]))),
            extra={"id": img * 100 + n, "category_id": 1, "iscrowd": False, "num_keypoints": int(kept.sum())}))
    return people


def coco_annotations(video_id: int, frame: int, truth: FrameTruth, first_ann_id: int) -> list[dict]:
    """COCO keypoint annotations (17 COCO joints, v in {0, 1, 2}) of one frame."""
    out = []
    img = image_id(video_id, frame)
    for n in range(len(truth.track_ids)):
        vis = truth.visibility[n]
        kp = []
        for k in range(17):
            if vis[k] > 0:
                kp += [round(float(truth.keypoints[n, k, 0]), 2), round(float(truth.keypoints[n, k, 1]), 2),
                       int(vis[k])]
            else:
                kp += [0, 0, 0]
        x1, y1, x2, y2 = truth.boxes[n]
        out.append({
            "id": first_ann_id + len(out),
            "image_id": img,
            "category_id": 1,
            "keypoints": kp,
            "num_keypoints": int((vis > 0).sum()),
            "bbox": round2([x1, y1, x2 - x1, y2 - y1]),
            "area": float(truth.areas[n]),
            "iscrowd": 0,
            "track_id": int(truth.track_ids[n]),
        })
    return out


def write_json_atomic(path: Path, data: dict | list) -> None:
    """Compact JSON, written atomically (``pose.fileio``): a file there is always complete."""
    write_text_atomic(path, json.dumps(data, separators=(",", ":")))


class _FrameWriter:
    """Encodes JPEGs and mp4 frames on a background thread while the next frame renders (cv2 releases the GIL)."""

    def __init__(self, jpeg_quality: int):
        self.params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)]
        self.jobs: queue.Queue = queue.Queue(maxsize=16)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            if self.error is not None:
                continue
            bgr, jpeg_path, video = job
            try:
                if jpeg_path is not None and not cv2.imwrite(str(jpeg_path), bgr, self.params):
                    raise SyntheticDataError(f"could not write {jpeg_path}; check that the disk is not full")
                if video is not None:
                    video.write(bgr)
            except BaseException as exc:  # reported by close()
                self.error = exc

    def put(self, bgr: np.ndarray, jpeg_path: Path | None, video) -> None:
        if self.error is not None:
            raise self.error
        self.jobs.put((bgr, jpeg_path, video))

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


def generate_dataset(
    out_dir: str | Path, videos: int, frames: int, seed: int, size: tuple[int, int] = (640, 480),
    num_people: int | None = None, label_stride: int = 1, first_id: int = 0, write_images: bool = True,
    write_videos: bool = True, posetrack_occluded: str = "drop", jpeg_quality: int = 90, fps: float = 25.0,
    config: VideoConfig | None = None, progress: bool = True, image_set: str = "",
    detections: DetectionNoise | None = DetectionNoise(), scenes: list[Scene] | None = None,
) -> dict:
    """Write ``videos`` synthetic videos of ``frames`` frames under ``out_dir`` (layout in the module docstring).

    Frame ``t`` is labelled when ``t % label_stride == 0``; the COCO file holds the labelled frames only.
    ``image_set`` (e.g. ``"train"``) puts the sequence files in ``annotations/<set>/`` and the COCO file at
    ``coco/<set>.json``, the layout the PoseTrack and synthetic training readers expect for a named set; two sets
    share one folder when their ``first_id`` ranges do not overlap.
    ``detections``: the noise of ``detections/[<set>/]<seq>.json`` (every frame, labelled or not); None writes none.
    ``scenes``: hand-made scenes (one per video, ``config.size == size``, camera path of at least ``frames``
    rows) written instead of random ones, e.g. a staged crossing for a test; the seed then drives only the
    detections.
    Returns a summary: ``{"videos", "frames", "labeled_frames", "people", "seconds", "cpu_seconds", "fps"}``.
    """
    check_frames(frames)
    for name, value, lo in (("videos", videos, 1), ("label_stride", label_stride, 1), ("first_id", first_id, 0),
                            ("seed", seed, 0)):
        if not isinstance(value, (int, np.integer)) or value < lo:
            raise SyntheticDataError(f"{name} must be an integer >= {lo}, got {value!r}")
    if first_id + videos - 1 > MAX_VIDEO_ID:
        raise SyntheticDataError(f"video ids go up to {first_id + videos - 1}, but PoseTrack names hold at most "
                                 f"6 digits; use fewer videos or a smaller --first-id")
    if image_set and (image_set in (".", "..") or any(c in image_set for c in "/\\")):
        raise SyntheticDataError(f"the set name must be a plain folder name such as train or val, got {image_set!r}")
    if posetrack_occluded not in ("drop", "keep"):
        raise SyntheticDataError(f"posetrack_occluded must be 'drop' or 'keep', got {posetrack_occluded!r}")
    config = VideoConfig() if config is None else config
    config = VideoConfig(**{**config.__dict__, "size": tuple(size),
                            "num_people": num_people if num_people is not None else config.num_people})
    check_config(config)
    if detections is not None:
        check_noise(detections)
    if scenes is not None:
        if len(scenes) != videos:
            raise SyntheticDataError(f"{len(scenes)} scenes were given for {videos} videos; give one per video")
        for scene in scenes:
            if tuple(scene.config.size) != tuple(size) or len(scene.camera) < frames:
                raise SyntheticDataError(f"a given scene is {scene.config.size} with {len(scene.camera)} camera "
                                         f"positions, but the videos are {tuple(size)} with {frames} frames")
    out = _prepare_out_dir(out_dir)

    coco = {"info": {"description": f"posetrack synthetic videos, seed {seed}"}, "images": [], "annotations": [],
            "categories": _categories(COCO17)}
    summary = {"videos": videos, "frames": 0, "labeled_frames": 0, "people": 0}
    bar = _progress(videos * frames, progress)
    start, start_cpu = time.perf_counter(), time.process_time()
    for i in range(videos):
        video_id = first_id + i
        seq = sequence_name(video_id)
        image_dir = out / "images" / seq
        if write_images:
            image_dir.mkdir(parents=True, exist_ok=True)
        video, video_tmp = None, None
        if write_videos:
            (out / "videos").mkdir(parents=True, exist_ok=True)
            video_tmp = out / "videos" / f".{seq}.partial.mp4"
            video = cv2.VideoWriter(str(video_tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, tuple(size))
            if not video.isOpened():
                raise SyntheticDataError(f"OpenCV could not open an mp4 writer for {video_tmp}; "
                                         f"pass --no-videos or install an OpenCV build with video support")
        writer = _FrameWriter(jpeg_quality)
        pt_frames, track_ids, dets = [], set(), []
        det_rng = detection_rng(seed, i)
        try:
            scene = scenes[i] if scenes is not None else make_scene(video_rng(seed, i), frames, config)
            for t in range(frames):
                bgr, truth = render_frame(scene, t, bgr=True)
                if detections is not None:
                    dets += detection_records(t, *noisy_detections(truth, size, detections, det_rng)[:2])
                writer.put(bgr, image_dir / f"{t:06d}.jpg" if write_images else None, video)
                labeled = t % label_stride == 0
                pt_frames.append(posetrack_frame(video_id, t, frames, truth, labeled, size, posetrack_occluded))
                if labeled:
                    coco["images"].append({"id": image_id(video_id, t), "file_name": f"images/{seq}/{t:06d}.jpg",
                                           "width": size[0], "height": size[1], "vid_id": f"{video_id:06d}",
                                           "frame_id": t})
                    coco["annotations"] += coco_annotations(video_id, t, truth, len(coco["annotations"]) + 1)
                    summary["labeled_frames"] += 1
                track_ids.update(int(k) for k in truth.track_ids)
                summary["frames"] += 1
                bar.update(1)
        finally:
            writer.close()
            if video is not None:
                video.release()
        if video_tmp is not None:
            os.replace(video_tmp, out / "videos" / f"{seq}.mp4")
        write_sequence(PoseTrackSequence(seq, pt_frames), out / "annotations" / image_set / f"{seq}.json")
        if detections is not None:
            write_json_atomic(out / "detections" / image_set / f"{seq}.json", dets)
        summary["people"] += len(track_ids)
    write_json_atomic(out / "coco" / (f"{image_set}.json" if image_set else "person_keypoints.json"), coco)
    bar.close()
    summary["seconds"] = time.perf_counter() - start
    summary["cpu_seconds"] = time.process_time() - start_cpu      # all threads of this process
    summary["fps"] = summary["frames"] / max(summary["seconds"], 1e-9)
    return summary


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="frame", disable=not enabled, desc="synthetic")


def _prepare_out_dir(out_dir: str | Path) -> Path:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SyntheticDataError(f"--out {out} is a file, not a folder; pass a folder path")
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=out, prefix=".write_test")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise SyntheticDataError(f"cannot write to the output folder {out} ({exc.strerror}); "
                                 f"pass a writable --out folder") from None
    return out
