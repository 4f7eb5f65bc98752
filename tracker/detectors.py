"""Person detectors: each is called with a ``Frame`` and returns the frame's person ``Boxes`` (xyxy, image pixels).

- ``TorchvisionDetector``: a torchvision Faster R-CNN (COCO person = label 1), weights through torchvision's
  weights API (downloaded once into the torch hub cache) or from a ``.pth`` file.
- ``YoloxOnnxDetector``: a COCO YOLOX exported to ONNX with raw head outputs, run by onnxruntime: letterbox,
  grid decoding, objectness x class score, class-wise NMS, boxes back to image coordinates.
- ``DetectionFile``: boxes read from a file (COCO results list or PoseTrack2018 file), looked up by frame index.

Boxes scoring below ``score_threshold`` are dropped (FlowTrack kept boxes scoring 0.5 or more).
``build_detector`` makes one from a ``DetectorConfig``; a user-fixable problem raises ``DetectorError``.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
import torchvision

from pose.fileio import parse_json_file
from pose.runtime import OnnxLoadError, onnx_session
from tracker.config import DetectorConfig
from tracker.types import Boxes, Frame

COCO_PERSON_LABEL = 1        # torchvision's COCO category ids: 0 is background, 1 is person
YOLOX_PERSON_CLASS = 0       # YOLOX's 80 contiguous COCO classes: 0 is person
YOLOX_PAD_VALUE = 114        # YOLOX preproc fills the letterbox with grey 114
YOLOX_STRIDES = (8, 16, 32)  # YOLOX heads: grids of input/8, input/16, input/32 cells


class DetectorError(ValueError):
    """A detector that cannot be built or a detection file that cannot be read; the message says the fix."""


def _filter_boxes(xyxy: np.ndarray, scores: np.ndarray, threshold: float) -> Boxes:
    keep = scores >= threshold
    return Boxes.detected(xyxy[keep], scores[keep])


# ----------------------------------------------------------------------------------------------------------------
# torchvision Faster R-CNN


def person_boxes_from_torchvision(output: dict, score_threshold: float) -> Boxes:
    """The person boxes of one torchvision detection output (``boxes`` (N, 4), ``labels`` (N,), ``scores`` (N,))."""
    boxes = output["boxes"].detach().cpu().numpy().astype(np.float32).reshape(-1, 4)
    labels = output["labels"].detach().cpu().numpy()
    scores = output["scores"].detach().cpu().numpy().astype(np.float32)
    person = labels == COCO_PERSON_LABEL
    return _filter_boxes(boxes[person], scores[person], score_threshold)


class TorchvisionDetector:
    """A torchvision detection model restricted to people.

    arch: a torchvision detection builder name (``fasterrcnn_resnet50_fpn_v2``, ``fasterrcnn_resnet50_fpn``,
    ``fasterrcnn_mobilenet_v3_large_fpn``, ...). weights: ``DEFAULT`` or an enum member name (``COCO_V1``) of the
    builder's weights, a path to a state-dict ``.pth`` file, or ``none`` for random weights (tests).
    model_options: keyword arguments of the builder, e.g. ``min_size`` / ``max_size`` of its internal resize.
    """

    def __init__(self, arch: str = "fasterrcnn_resnet50_fpn_v2", weights: str = "DEFAULT",
                 score_threshold: float = 0.5, device: str = "cpu", **model_options):
        self.score_threshold = score_threshold
        self.device = torch.device(device)
        try:
            builder = torchvision.models.get_model_builder(arch)
        except ValueError:
            names = [n for n in torchvision.models.list_models(torchvision.models.detection)]
            raise DetectorError(f"unknown torchvision detector {arch!r}; choose one of {', '.join(names)}") from None
        self.model = _build_torchvision_model(arch, builder, weights, model_options)
        self.model.eval().to(self.device)
        self.autocast: torch.dtype | None = None    # a GPU's fp16/bf16 autocast (set by the tracker's precision)

    @torch.inference_mode()
    def __call__(self, frame: Frame) -> Boxes:
        image = torch.from_numpy(frame.image).to(self.device).permute(2, 0, 1).float().div_(255.0)
        if self.autocast is not None:
            with torch.autocast(self.device.type, dtype=self.autocast):
                output = self.model([image])[0]
            output = {key: value.float() if value.is_floating_point() else value for key, value in output.items()}
        else:
            output = self.model([image])[0]
        return person_boxes_from_torchvision(output, self.score_threshold)


def _build_torchvision_model(arch: str, builder, weights: str, options: dict) -> torch.nn.Module:
    if not weights or weights.lower() == "none":
        return builder(weights=None, weights_backbone=None, **options)
    path = Path(weights)
    if path.suffix in (".pth", ".pt") or path.exists():
        return _load_torchvision_file(arch, builder, path, options)
    try:
        enum = torchvision.models.get_model_weights(arch)
        weight = enum.DEFAULT if weights == "DEFAULT" else enum[weights]
    except KeyError:
        raise DetectorError(
            f"torchvision has no weights {weights!r} for {arch}; use DEFAULT, none or a .pth path"
        ) from None
    file_name = Path(weight.url).name
    cache = Path(torch.hub.get_dir()) / "checkpoints"
    try:
        return builder(weights=weight, weights_backbone=None, **options)
    except (OSError, RuntimeError) as error:  # URLError is an OSError; a truncated download a RuntimeError
        raise DetectorError(
            f"cannot get the {arch} weights {file_name} ({type(error).__name__}); download {weight.url} and put "
            f"it in {cache}, or pass a .pth path"
        ) from None


def _load_torchvision_file(arch: str, builder, path: Path, options: dict) -> torch.nn.Module:
    if not path.exists():
        raise DetectorError(f"detector weights file {path} does not exist; check the path")
    model = builder(weights=None, weights_backbone=None, **options)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unpickling failure is a bad file
        raise DetectorError(f"{path} is not a PyTorch state dict ({type(error).__name__}); give a .pth file") from None
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DetectorError(f"{path} does not fit torchvision's {arch} ({first}); give weights for that model") from None
    return model


# ----------------------------------------------------------------------------------------------------------------
# YOLOX through onnxruntime


def letterbox(image: np.ndarray, size: int, pad_value: int = YOLOX_PAD_VALUE) -> tuple[np.ndarray, float]:
    """Resize (H, W, 3) keeping the aspect ratio into the top-left of a (size, size, 3) canvas filled with
    ``pad_value``, as YOLOX's preprocessing does. Returns the canvas and the scale ratio (canvas px / image px)."""
    height, width = image.shape[:2]
    ratio = min(size / height, size / width)
    new_w, new_h = int(width * ratio), int(height * ratio)
    canvas = np.full((size, size, 3), pad_value, dtype=np.uint8)
    canvas[:new_h, :new_w] = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    return canvas, ratio


def yolox_grids(input_size: int, strides: tuple[int, ...] = YOLOX_STRIDES) -> tuple[np.ndarray, np.ndarray]:
    """Cell coordinates (A, 2) x, y and strides (A,) of all anchors, grids in stride order, each row-major."""
    cells, cell_strides = [], []
    for stride in strides:
        side = input_size // stride
        ys, xs = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
        cells.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        cell_strides.append(np.full(side * side, stride))
    return np.concatenate(cells).astype(np.float32), np.concatenate(cell_strides).astype(np.float32)


def decode_yolox(raw: np.ndarray, input_size: int, grids: tuple[np.ndarray, np.ndarray] | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Raw YOLOX head output (A, 5 + C) -> boxes (A, 4) xyxy in input pixels and class scores (A, C) = obj * cls.

    Columns: x, y offsets and log w, log h in cell units, then objectness and C class probabilities (sigmoided);
    centre = (offset + cell) * stride, size = exp(log size) * stride. ``grids``: ``yolox_grids(input_size)`` when
    the caller keeps them.
    """
    cells, strides = grids if grids is not None else yolox_grids(input_size)
    if len(cells) != len(raw):
        raise DetectorError(f"YOLOX output has {len(raw)} anchors, expected {len(cells)} for input {input_size}")
    centre = (raw[:, :2] + cells) * strides[:, None]
    size = np.exp(raw[:, 2:4]) * strides[:, None]
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    return boxes.astype(np.float32), (raw[:, 4:5] * raw[:, 5:]).astype(np.float32)


def yolox_person_boxes(raw: np.ndarray, input_size: int, ratio: float, score_threshold: float,
                       nms_threshold: float, grids: tuple[np.ndarray, np.ndarray] | None = None) -> Boxes:
    """YOLOX post-processing: each anchor takes its best class; boxes under ``score_threshold`` go; class-wise NMS;
    the person boxes, divided by the letterbox ``ratio`` back into image pixels. (Class-wise NMS suppresses a box
    only by boxes of its class, so NMS over the person boxes alone keeps the same ones.)"""
    boxes, class_scores = decode_yolox(raw, input_size, grids)
    best = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(len(best)), best]
    person = (scores >= score_threshold) & (best == YOLOX_PERSON_CLASS)
    boxes, scores = boxes[person], scores[person]
    kept = torchvision.ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), nms_threshold).numpy()
    return Boxes.detected(boxes[kept] / ratio, scores[kept])


class YoloxOnnxDetector:
    """YOLOX (COCO, raw head outputs) in ONNX through onnxruntime; input BGR 0-255, letterboxed with grey 114."""

    def __init__(self, path: str | Path, score_threshold: float = 0.5, nms_threshold: float = 0.45,
                 input_size: int = 416, device: str = "cpu", threads: int = 0):
        import onnxruntime

        path = Path(path)
        if not path.exists():
            raise DetectorError(f"ONNX detector {path} does not exist; check the path after 'onnx:'")
        providers = ["CPUExecutionProvider"]
        if str(device).startswith("cuda") and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self.session = onnx_session(path, providers, threads)
        except OnnxLoadError as error:
            raise DetectorError(f"{path} is not an ONNX model onnxruntime can load ({error}); "
                                f"give a YOLOX .onnx file") from None
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        side = model_input.shape[-1]
        self.input_size = side if isinstance(side, int) else input_size
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.grids = yolox_grids(self.input_size)

    def __call__(self, frame: Frame) -> Boxes:
        # letterboxed as RGB, then channels reversed into the BGR blob (the grey padding is the same in all three)
        canvas, ratio = letterbox(frame.image, self.input_size)
        blob = np.ascontiguousarray(canvas.transpose(2, 0, 1)[None, ::-1], dtype=np.float32)
        raw = self.session.run(None, {self.input_name: blob})[0][0]
        return yolox_person_boxes(raw, self.input_size, ratio, self.score_threshold, self.nms_threshold, self.grids)


# ----------------------------------------------------------------------------------------------------------------
# Detections from a file


class DetectionFile:
    """Person boxes read once from a JSON file and looked up by frame index.

    Formats: a COCO results list ``[{"image_id", "bbox": [x, y, w, h], "score", "category_id"}]`` whose
    ``image_id`` is the 0-based frame index; or a PoseTrack2018 file ``{"images": [...], "annotations": [...]}``
    whose images are in frame order (annotations without a ``score`` count as 1.0). When ``image_ids`` lists the
    video's image ids in frame order (submission mode: the ground truth's ids), frame i takes the boxes whose
    ``image_id`` is ``image_ids[i]``, in either format.
    """

    def __init__(self, path: str | Path, score_threshold: float = 0.5, image_ids: list | None = None):
        path = Path(path)
        if not path.exists():
            raise DetectorError(f"detection file {path} does not exist; check the path after 'file:'")
        data = parse_json_file(path, DetectorError, "detection file", "fix or regenerate it")
        self.path = path
        self.score_threshold = score_threshold
        if isinstance(data, list):
            records, file_ids = data, None
        elif isinstance(data, dict) and isinstance(data.get("images"), list) and "annotations" in data:
            records = data["annotations"]
            try:
                file_ids = [image["id"] for image in data["images"]]
            except (KeyError, TypeError):
                raise DetectorError(f"detection file {path}: every entry of 'images' needs an 'id'") from None
        else:
            raise DetectorError(f"detection file {path} is neither a COCO results list nor a PoseTrack2018 file "
                                f"with images and annotations")
        self._by_id = self._group(records)
        self._frame_ids = list(image_ids) if image_ids is not None else file_ids

    def for_images(self, image_ids: list) -> "DetectionFile":
        """The same boxes, looked up through another video's image ids (one file for many sequences).

        A file whose ids are frame indices (``image_id`` = 0, 1, ...; what ``--detector file:`` takes for a video)
        matches none of a PoseTrack sequence's image ids: it is then read by frame index."""
        other = object.__new__(DetectionFile)
        other.__dict__.update(self.__dict__)
        ids = list(image_ids)
        other._frame_ids = ids if any(i in self._by_id for i in ids) or not self._by_id else None
        return other

    def _group(self, records: list) -> dict:
        grouped: dict = {}
        for number, record in enumerate(records):
            try:
                if record.get("category_id", COCO_PERSON_LABEL) != COCO_PERSON_LABEL:
                    continue
                image_id = record["image_id"]
                x, y, w, h = (float(v) for v in record["bbox"])
                score = float(record.get("score", 1.0))
                if not (np.isfinite([x, y, w, h, score]).all() and w > 0 and h > 0):
                    raise ValueError("not a box")
                grouped.setdefault(image_id, []).append((x, y, x + w, y + h, score))
            except (KeyError, TypeError, ValueError, AttributeError):
                raise DetectorError(f"detection {number} in {self.path} lacks image_id or a 4-number bbox of "
                                    f"positive size; each entry needs image_id, bbox [x, y, w, h] and score") from None
        return {key: np.array(rows, np.float32).reshape(-1, 5) for key, rows in grouped.items()}

    def __call__(self, frame: Frame) -> Boxes:
        if self._frame_ids is None:
            key = frame.index
        elif frame.index < len(self._frame_ids):
            key = self._frame_ids[frame.index]
        else:
            return Boxes.empty()
        rows = self._by_id.get(key)
        if rows is None:
            return Boxes.empty()
        return _filter_boxes(rows[:, :4], rows[:, 4], self.score_threshold)


def parse_detector_spec(spec: str, config: DetectorConfig) -> DetectorConfig:
    """Apply a CLI ``--detector`` value (``torchvision``, ``torchvision:ARCH``, ``onnx:PATH``, ``file:PATH``)."""
    kind, _, rest = spec.partition(":")
    if kind == "torchvision":
        return config.replace(kind="torchvision", arch=rest or config.arch)
    if kind in ("onnx", "file"):
        if not rest:
            raise DetectorError(f"--detector {kind}: needs a path, e.g. {kind}:/path/to/file")
        return config.replace(kind=kind, path=rest)
    raise DetectorError(f"unknown detector {spec!r}; use torchvision, onnx:PATH or file:PATH")


def build_detector(config: DetectorConfig, device: str = "cpu", image_ids: list | None = None):
    """The detector a ``DetectorConfig`` describes (``image_ids``: a detection file's ids in frame order)."""
    if config.kind == "torchvision":
        return TorchvisionDetector(config.arch, config.weights, config.score_threshold, device)
    if config.kind == "onnx":
        return YoloxOnnxDetector(config.path, config.score_threshold, config.nms_threshold, config.input_size,
                                 device, config.threads)
    if config.kind == "file":
        return DetectionFile(config.path, config.score_threshold, image_ids)
    raise DetectorError(f"unknown detector kind {config.kind!r}; use torchvision, onnx or file")
