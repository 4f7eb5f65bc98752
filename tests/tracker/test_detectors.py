"""Person detectors: YOLOX ONNX (letterbox, grid decoding, NMS, real video), torchvision Faster R-CNN, files."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch

from tests.conftest import shared_path
from tracker.config import DetectorConfig
from tracker.detectors import (
    DetectionFile,
    DetectorError,
    TorchvisionDetector,
    YoloxOnnxDetector,
    build_detector,
    decode_yolox,
    letterbox,
    parse_detector_spec,
    person_boxes_from_torchvision,
    yolox_person_boxes,
)
from tracker.types import Frame
from tracker.video import open_source


def test_letterbox_keeps_aspect_and_pads_grey():
    image = np.full((100, 200, 3), 7, np.uint8)
    canvas, ratio = letterbox(image, 416)
    assert ratio == pytest.approx(2.08)
    assert canvas.shape == (416, 416, 3)
    assert (canvas[:208, :416] == 7).all()          # the image, resized to 416 x 208, at the top left
    assert (canvas[208:] == 114).all()              # YOLOX's grey padding below


def _raw_with(anchors: dict[int, tuple], num_anchors: int = 3549) -> np.ndarray:
    raw = np.zeros((num_anchors, 85), np.float32)
    for index, (dx, dy, w, h, obj, cls, prob) in anchors.items():
        raw[index, :4] = (dx, dy, np.log(w), np.log(h))
        raw[index, 4] = obj
        raw[index, 5 + cls] = prob
    return raw


def test_yolox_grid_decoding_hand_computed():
    # stride-16 grid (26 x 26) starts after the 52 x 52 stride-8 grid; cell x=3, y=2 is row-major 2 * 26 + 3
    index = 52 * 52 + 2 * 26 + 3
    raw = _raw_with({index: (0.5, 0.25, 2.0, 4.0, 0.9, 0, 0.8)})
    boxes, scores = decode_yolox(raw, 416)
    # centre = ((0.5 + 3) * 16, (0.25 + 2) * 16) = (56, 36); size = (2 * 16, 4 * 16) = (32, 64)
    np.testing.assert_allclose(boxes[index], [40, 4, 72, 68], atol=1e-4)
    assert scores[index, 0] == pytest.approx(0.72)
    # last stride-32 cell (12, 12): centre (12.5 * 32) with zero offsets + 0.5
    last = _raw_with({3548: (0.5, 0.5, 1.0, 1.0, 1.0, 0, 1.0)})
    np.testing.assert_allclose(decode_yolox(last, 416)[0][3548], [384, 384, 416, 416], atol=1e-4)


def test_yolox_postprocess_nms_person_only_and_rescale():
    a = 52 * 52 + 2 * 26 + 3                    # person, score 0.72
    b = 52 * 52 + 2 * 26 + 4                    # person one cell right (IoU 1/3 with a at w=2): kept
    c = 52 * 52 + 2 * 26 + 3 - 26               # person one cell up, tall box overlapping a strongly: suppressed
    d = 52 * 52 + 10 * 26 + 10                  # a car (class 2) with a high score: not a person
    e = 52 * 52 + 20 * 26 + 20                  # a person below the score threshold
    raw = _raw_with({
        a: (0.5, 0.25, 2.0, 4.0, 0.9, 0, 0.8),
        b: (0.5, 0.25, 2.0, 4.0, 0.9, 0, 0.7),
        c: (0.5, 1.10, 2.0, 4.0, 0.9, 0, 0.6),
        d: (0.5, 0.5, 3.0, 2.0, 0.95, 2, 0.95),
        e: (0.5, 0.5, 2.0, 4.0, 0.5, 0, 0.5),
    })
    boxes = yolox_person_boxes(raw, 416, ratio=2.0, score_threshold=0.5, nms_threshold=0.45)
    np.testing.assert_allclose(boxes.scores, [0.72, 0.63], atol=1e-6)
    # image coordinates = letterbox coordinates / ratio
    np.testing.assert_allclose(boxes.xyxy[0], np.array([40, 4, 72, 68]) / 2.0, atol=1e-4)
    np.testing.assert_allclose(boxes.xyxy[1], np.array([56, 4, 88, 68]) / 2.0, atol=1e-4)


def test_yolox_onnx_finds_the_people_of_vtest():
    model = shared_path("data", "models", "yolox_nano.onnx")
    video = shared_path("data", "videos", "vtest.avi")
    detector = YoloxOnnxDetector(model, score_threshold=0.5)
    for frame in itertools.islice(open_source(video), 0, 3):
        boxes = detector(frame)
        assert len(boxes) >= 3                       # three walkers in the first frames
        assert (boxes.scores >= 0.5).all()
        width, height = boxes.xyxy[:, 2] - boxes.xyxy[:, 0], boxes.xyxy[:, 3] - boxes.xyxy[:, 1]
        assert (boxes.xyxy[:, :2] >= -1).all() and (boxes.xyxy[:, 2] <= 769).all()
        assert (height > width).sum() >= 3           # standing people are taller than wide
        assert ((height > 60) & (height < 150)).sum() >= 3  # at vtest's scale (people ~70-100 px)


def test_onnx_detector_errors(tmp_path):
    with pytest.raises(DetectorError, match="does not exist"):
        YoloxOnnxDetector(tmp_path / "nope.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(DetectorError, match="not an ONNX model"):
        YoloxOnnxDetector(bad)


def test_torchvision_person_filter():
    output = {
        "boxes": torch.tensor([[0, 0, 10, 20], [5, 5, 15, 25], [1, 1, 2, 2], [3, 3, 9, 9]], dtype=torch.float32),
        "labels": torch.tensor([1, 3, 1, 1]),
        "scores": torch.tensor([0.9, 0.95, 0.3, 0.5]),
    }
    boxes = person_boxes_from_torchvision(output, score_threshold=0.5)
    np.testing.assert_array_equal(boxes.xyxy, [[0, 0, 10, 20], [3, 3, 9, 9]])
    np.testing.assert_allclose(boxes.scores, [0.9, 0.5])


def test_torchvision_random_weights_on_a_tiny_image():
    detector = TorchvisionDetector("fasterrcnn_mobilenet_v3_large_fpn", weights="none", score_threshold=0.0,
                                   min_size=64, max_size=96)
    torch.manual_seed(0)
    boxes = detector(Frame(0, np.random.default_rng(0).integers(0, 255, (64, 80, 3), dtype=np.uint8)))
    assert boxes.xyxy.shape[1] == 4 and (boxes.source == 0).all()
    assert (boxes.xyxy[:, 2] <= 80 + 1e-3).all() and (boxes.xyxy[:, 3] <= 64 + 1e-3).all()


def test_torchvision_offline_error_names_file_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    # offline whatever the machine: downloads go through a proxy that refuses connections
    for name in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with pytest.raises(DetectorError) as error:
        TorchvisionDetector("fasterrcnn_mobilenet_v3_large_fpn", weights="DEFAULT")
    message = str(error.value)
    assert "fasterrcnn_mobilenet_v3_large_fpn-" in message and str(tmp_path / "hub" / "checkpoints") in message


def test_torchvision_weights_file_of_the_wrong_model(tmp_path):
    path = tmp_path / "wrong.pth"
    torch.save({"backbone.body.conv1.weight": torch.zeros(3, 3, 1, 1)}, path)
    with pytest.raises(DetectorError, match="does not fit"):
        TorchvisionDetector("fasterrcnn_mobilenet_v3_large_fpn", weights=str(path))
    with pytest.raises(DetectorError, match="unknown torchvision detector"):
        TorchvisionDetector("not_a_detector", weights="none")


def test_detection_file_coco_results(tmp_path):
    path = tmp_path / "dets.json"
    path.write_text(json.dumps([
        {"image_id": 0, "category_id": 1, "bbox": [10, 20, 30, 40], "score": 0.9},
        {"image_id": 0, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.2},
        {"image_id": 2, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.7},
        {"image_id": 2, "category_id": 3, "bbox": [1, 2, 3, 4], "score": 0.99},
    ]))
    detector = build_detector(parse_detector_spec(f"file:{path}", DetectorConfig()))
    frame = lambda i: Frame(i, np.zeros((4, 4, 3), np.uint8))  # noqa: E731
    np.testing.assert_array_equal(detector(frame(0)).xyxy, [[10, 20, 40, 60]])   # xywh -> xyxy, 0.2 dropped
    assert len(detector(frame(1))) == 0
    np.testing.assert_array_equal(detector(frame(2)).xyxy, [[1, 2, 4, 6]])        # the car is not a person
    by_ids = DetectionFile(path, 0.5, image_ids=[2, 0])                           # frame i has image id ids[i]
    np.testing.assert_array_equal(by_ids(frame(0)).xyxy, [[1, 2, 4, 6]])
    # a frame-index file used for a PoseTrack sequence whose image ids it does not know: read by frame index
    by_index = detector.for_images([10034180000, 10034180001, 10034180002])
    np.testing.assert_array_equal(by_index(frame(2)).xyxy, [[1, 2, 4, 6]])
    assert len(by_ids.for_images([2, 0])(frame(0))) == 1                           # ids that match are kept


def test_detection_file_posetrack_format(tmp_path):
    path = tmp_path / "seq.json"
    path.write_text(json.dumps({
        "images": [{"id": 501, "file_name": "a/0.jpg"}, {"id": 777, "file_name": "a/1.jpg"}],
        "annotations": [{"image_id": 777, "bbox": [5, 5, 10, 10]},
                        {"image_id": 501, "bbox": [0, 0, 2, 2], "score": 0.6}],
    }))
    detector = DetectionFile(path)
    np.testing.assert_array_equal(detector(Frame(0, np.zeros((4, 4, 3), np.uint8))).xyxy, [[0, 0, 2, 2]])
    one = detector(Frame(1, np.zeros((4, 4, 3), np.uint8)))
    np.testing.assert_array_equal(one.xyxy, [[5, 5, 15, 15]])
    assert one.scores[0] == 1.0                                                     # no score: 1.0


def test_detection_file_errors(tmp_path):
    with pytest.raises(DetectorError, match="does not exist"):
        DetectionFile(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DetectorError, match="not valid JSON"):
        DetectionFile(bad)
    bad.write_text(json.dumps([{"image_id": 0, "bbox": [1, 2]}]))
    with pytest.raises(DetectorError, match="4-number bbox"):
        DetectionFile(bad)
    bad.write_text(json.dumps([{"image_id": 0, "bbox": [10, 20, -30, -40], "score": 1}]))
    with pytest.raises(DetectorError, match="positive size"):
        DetectionFile(bad)
    bad.write_text(json.dumps({"something": 1}))
    with pytest.raises(DetectorError, match="neither"):
        DetectionFile(bad)
    with pytest.raises(DetectorError, match="unknown detector"):
        parse_detector_spec("yolo", DetectorConfig())
    with pytest.raises(DetectorError, match="needs a path"):
        parse_detector_spec("onnx:", DetectorConfig())
