"""Pose network runners (pose.runtime) and the estimator's handling of regressed-keypoint models.

Small ONNX graphs are built here with ``onnx.helper`` (a MoveNet-shaped model: int32 NHWC input with batch fixed to
1, ``(1, 1, 17, 3)`` output), so the checks run without ``../shared``.
"""
from __future__ import annotations

import sys

import numpy as np
import pytest

from pose.config import load_config
from pose.inference import TopDownPoseEstimator
from pose.keypoints import COCO17
from pose.runtime import InputSpec, OnnxRunner, RuntimeModelError, load_runner, prepare_input
from pose.transforms import flip_permutation

onnx = pytest.importorskip("onnx", reason="building test ONNX graphs needs the onnx package (the onnx extra)")
from onnx import TensorProto, helper  # noqa: E402

SIDE = 16


def movenet_like(path, side: int = SIDE, seed: int = 0) -> np.ndarray:
    """A batch-1 int32 NHWC model: sigmoid(channel means @ W + b) as (1, 1, 17, 3). Returns W (for reference)."""
    rng = np.random.default_rng(seed)
    weight = (rng.normal(size=(3, 51)) / 100).astype(np.float32)
    bias = rng.normal(size=51).astype(np.float32)
    nodes = [
        helper.make_node("Cast", ["input:0"], ["x"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["x", "axes"], ["m"], keepdims=0),
        helper.make_node("MatMul", ["m", "w"], ["y"]),
        helper.make_node("Add", ["y", "b"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["s"]),
        helper.make_node("Reshape", ["s", "shape"], ["Identity:0"]),
    ]
    init = [helper.make_tensor("axes", TensorProto.INT64, [2], [1, 2]),
            helper.make_tensor("w", TensorProto.FLOAT, weight.shape, weight.ravel()),
            helper.make_tensor("b", TensorProto.FLOAT, bias.shape, bias),
            helper.make_tensor("shape", TensorProto.INT64, [4], [1, 1, 17, 3])]
    graph = helper.make_graph(nodes, "movenet_like",
                              [helper.make_tensor_value_info("input:0", TensorProto.INT32, [1, side, side, 3])],
                              [helper.make_tensor_value_info("Identity:0", TensorProto.FLOAT, [1, 1, 17, 3])], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.save(model, str(path))
    return weight, bias


def reference_output(crop: np.ndarray, weight, bias) -> np.ndarray:
    mean = crop.astype(np.float64).mean(axis=(0, 1))
    return (1 / (1 + np.exp(-(mean @ weight + bias)))).reshape(17, 3)


@pytest.fixture
def small_movenet_config():
    return load_config("movenet_thunder", [f"model.image_size=[{SIDE},{SIDE}]", f"model.heatmap_size=[4,4]"])


def test_prepare_input_by_hand():
    crops = np.array([[[[10, 20, 30], [40, 50, 60]]]], np.uint8)              # (1, 1, 2, 3)
    nhwc = prepare_input(crops, InputSpec((2, 1), "int32", "nhwc"))
    assert nhwc.dtype == np.int32 and nhwc.shape == (1, 1, 2, 3) and nhwc[0, 0, 1].tolist() == [40, 50, 60]
    bgr = prepare_input(crops, InputSpec((2, 1), "uint8", "nhwc", rgb=False))
    assert bgr[0, 0, 0].tolist() == [30, 20, 10]
    spec = InputSpec((2, 1), "float32", "nchw", mean=(0.5, 0.0, 0.1), std=(0.25, 1.0, 0.5))
    nchw = prepare_input(crops, spec)
    assert nchw.shape == (1, 3, 1, 2) and nchw.dtype == np.float32
    # channel 0 of pixel 1: (40 - 0.5 * 255) / (0.25 * 255); channel 2 of pixel 0: (30 - 25.5) / 127.5
    np.testing.assert_allclose(nchw[0, 0, 0, 1], (40 - 127.5) / 63.75, rtol=1e-6)
    np.testing.assert_allclose(nchw[0, 2, 0, 0], (30 - 25.5) / 127.5, rtol=1e-6)


def test_fixed_batch_onnx_runs_any_number_of_crops(tmp_path, small_movenet_config):
    path = tmp_path / "m.onnx"
    weight, bias = movenet_like(path)
    runner = load_runner(small_movenet_config, path)
    assert isinstance(runner, OnnxRunner) and runner.batch == 1
    crops = np.random.default_rng(1).integers(0, 256, (3, SIDE, SIDE, 3), dtype=np.uint8)
    out = runner(crops)
    assert out.shape == (3, 1, 17, 3) and out.dtype == np.float32
    for crop, got in zip(crops, out):
        np.testing.assert_allclose(got[0], reference_output(crop, weight, bias), atol=1e-5)


def test_estimator_batches_and_flips_a_fixed_batch_model(tmp_path, small_movenet_config):
    """3 boxes through a batch-1 model with the flip test, in one call, equal the boxes one at a time; the flipped
    pass is mirrored back (x -> 1 - x, left/right swapped) and averaged, as computed here by hand."""
    path = tmp_path / "m.onnx"
    weight, bias = movenet_like(path)
    image = np.random.default_rng(2).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    boxes = np.array([[5.0, 5.0, 30.0, 50.0], [20.0, 10.0, 70.0, 40.0], [40.0, 0.0, 79.0, 59.0]])
    estimator = TopDownPoseEstimator.from_config(small_movenet_config, path, flip_test=True, max_batch=4)
    keypoints, scores = estimator(image, boxes)
    for i, box in enumerate(boxes):
        one_kp, one_sc = estimator(image, box[None])
        np.testing.assert_allclose(keypoints[i], one_kp[0], atol=1e-4)
        np.testing.assert_allclose(scores[i], one_sc[0], atol=1e-6)
    crops, _, _ = estimator.crops(image, boxes)
    plain = np.stack([reference_output(c, weight, bias) for c in crops])
    mirrored = np.stack([reference_output(c[:, ::-1], weight, bias) for c in crops])[:, flip_permutation(
        COCO17.flip_pairs, 17)]
    mirrored[..., 1] = 1 - mirrored[..., 1]
    np.testing.assert_allclose(estimator.outputs(crops), (plain + mirrored) / 2, atol=1e-5)
    np.testing.assert_allclose(scores, ((plain + mirrored) / 2)[..., 2], atol=1e-5)
    assert estimator.estimate(image, boxes)[2] is None        # no heatmaps from a keypoint model


class Centroid:
    """A fake keypoint network: every joint at the red channel's centroid (y, x in 0-1 of the crop, pixel centres at
    (i + 0.5) / size), score 0.9."""

    name = "centroid"

    def __init__(self, spec: InputSpec):
        self.spec = spec

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        red = crops[..., 0].astype(np.float64)
        height, width = red.shape[1:]
        ys, xs = np.mgrid[0:height, 0:width] + 0.5
        total = red.sum(axis=(1, 2))
        y = (red * ys).sum(axis=(1, 2)) / total / height
        x = (red * xs).sum(axis=(1, 2)) / total / width
        out = np.stack([y, x, np.full_like(x, 0.9)], axis=1)
        return np.repeat(out[:, None, None, :], 17, axis=2).astype(np.float32)     # (B, 1, 17, 3)


@pytest.mark.parametrize("flip", [False, True])
def test_regressed_keypoints_map_back_to_image_pixels(flip):
    """A blob at a known image point comes back there through crop, network, inverse affine (known transform)."""
    config = load_config("movenet_thunder", ["model.image_size=[64,64]", "model.heatmap_size=[16,16]"])
    x0, y0, sigma = 131.3, 92.6, 4.0
    ys, xs = np.mgrid[0:200, 0:260]
    image = np.zeros((200, 260, 3), np.uint8)
    image[..., 0] = np.round(255 * np.exp(-((xs - x0) ** 2 + (ys - y0) ** 2) / (2 * sigma**2)))
    boxes = np.array([[100.0, 60.0, 160.0, 140.0], [110.0, 80.0, 150.0, 100.0], [90.0, 20.0, 230.0, 170.0]])
    estimator = TopDownPoseEstimator(Centroid(InputSpec.from_config(config)), config, flip_test=flip)
    keypoints, scores = estimator(image, boxes)
    assert keypoints.shape == (3, 17, 2)
    np.testing.assert_allclose(keypoints[:, 0], [[x0, y0]] * 3, atol=0.05)
    np.testing.assert_allclose(scores, 0.9, atol=1e-6)


def test_onnx_errors_are_one_sentence(tmp_path, small_movenet_config, monkeypatch):
    with pytest.raises(RuntimeModelError, match="does not exist"):
        load_runner(small_movenet_config, tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_text("not a model")
    with pytest.raises(RuntimeModelError, match="is not an ONNX model"):
        load_runner(small_movenet_config, junk)
    path = tmp_path / "m.onnx"
    movenet_like(path)
    hrnet_config = load_config("coco_w32_256x192")
    with pytest.raises(RuntimeModelError, match=r"takes input of shape 1x16x16x3 but its pose config says "
                                                r"Bx3x256x192"):
        load_runner(hrnet_config, path)
    with pytest.raises(RuntimeModelError, match="takes int32 input but its pose config says network.input_dtype "
                                                "float32"):
        load_runner(load_config("movenet_thunder", [f"model.image_size=[{SIDE},{SIDE}]", "network.input_dtype="
                                                    "float32"]), path)
    with pytest.raises(RuntimeModelError, match="only runs from its .onnx file"):
        load_runner(small_movenet_config, "random.pth")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)        # import onnxruntime now raises ImportError
    with pytest.raises(RuntimeModelError, match="onnxruntime is not installed"):
        load_runner(small_movenet_config, path)


@pytest.mark.parametrize("override, message", [
    ("network.output=boxes", "network.output must be one of heatmaps, keypoints"),
    ("network.input_layout=nhcw", "network.input_layout must be nchw or nhwc"),
    ("network.input_dtype=float16", "network.input_dtype must be one of"),
    ("network.mean=[0.5]", "must both have 3 values"),
    ("network.std=[1,0,1]", "network.std numbers > 0"),
])
def test_network_section_is_validated(override, message):
    from pose.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        load_config("coco_w32_256x192", [override])


def test_heatmap_size_checked_only_for_heatmap_models():
    from pose.config import ConfigError

    with pytest.raises(ConfigError, match="must be model.image_size"):
        load_config("coco_w32_256x192", ["model.heatmap_size=[10,10]"])
    assert load_config("movenet_thunder", ["model.heatmap_size=[10,10]"]).network.output == "keypoints"
