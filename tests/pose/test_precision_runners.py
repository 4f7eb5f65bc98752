"""Every precision and runtime of the pose network agrees with the fp32 PyTorch keypoints on synthetic people, and
``--precision auto`` on a CPU with nothing faster than fp32 (simulated) runs fp32 and says so."""
from __future__ import annotations

import numpy as np
import pytest

import pose
import pose.precision
from pose.config import load_config
from pose.data.synthetic import generate_video
from pose.inference import TopDownPoseEstimator
from pose.precision import cpu_abilities, installed_runtimes
from pose.runtime_choice import load_precision_runner
from tracker.run import main as run_main

NATIVE = cpu_abilities().native
RUNTIMES = installed_runtimes()
# (precision, runtime, median bound px, p95 bound px) on 640x480 frames, hrnet_synthetic (32x24 heatmaps: one
# heatmap pixel is 6-16 px here, the quarter offset a quarter of that). fp32 runtimes differ from PyTorch only in
# float rounding (measured: 0 px). bf16 / fp16 keep 8 / 11 mantissa bits: a joint moves only where its heatmap's
# neighbours are nearly equal, so the quarter offset flips (measured on these frames: 5.6 % of the joints, median
# 0, p95 2.9 px in PyTorch bf16). int8 moves more joints by a quarter offset (measured: median 0, p95 3.0 px on
# OpenVINO, 4.2 px on ONNX Runtime).
CASES = [("fp32", "onnxruntime", 0.01, 0.01), ("fp32", "openvino", 0.01, 0.01), ("bf16", "pytorch", 0.5, 4.0),
         ("bf16", "openvino", 0.5, 4.0), ("fp16", "pytorch", 0.5, 4.0), ("fp16", "openvino", 0.5, 4.0),
         ("int8", "openvino", 1.0, 8.0), ("int8", "onnxruntime", 1.0, 8.0)]


@pytest.fixture(scope="module")
def synthetic_people():
    """Frames and ground-truth person boxes of a held-out synthetic video (seed 7), and the shipped model."""
    config = load_config("hrnet_synthetic")
    model = pose.build_model(config, weights="hrnet_synthetic")
    frames = [(f, t.boxes) for i, (f, t) in enumerate(generate_video(7, 24, video_index=3)) if i % 4 == 0]
    reference = TopDownPoseEstimator(model, config)
    return config, model, frames, [reference(f, b) for f, b in frames]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.mark.parametrize("precision,runtime,median_px,p95_px", CASES)
def test_precision_agrees_with_fp32(synthetic_people, cache, precision, runtime, median_px, p95_px):
    if precision not in NATIVE:
        pytest.skip(f"this CPU does not run {precision} natively ({cpu_abilities().description})")
    if runtime not in RUNTIMES:
        pytest.skip(f"{runtime} is not installed")
    config, model, frames, reference = synthetic_people
    runner, choice = load_precision_runner(config, device="cpu", precision=precision, runtime=runtime,
                                           model=model, cache_dir=cache)
    assert (choice.precision, choice.runtime) == (precision, runtime)
    estimator = TopDownPoseEstimator(runner, config)
    shifts, score_changes = [], []
    for (frame, boxes), (keypoints, scores) in zip(frames, reference):
        got, got_scores = estimator(frame, boxes)
        assert got.dtype == np.float32 and got.shape == keypoints.shape
        shifts.append(np.linalg.norm(got - keypoints, axis=-1).ravel())
        score_changes.append(np.abs(got_scores - scores).ravel())
    shifts, score_changes = np.concatenate(shifts), np.concatenate(score_changes)
    print(f"{precision} {runtime}: {len(shifts)} joints, shift median {np.median(shifts):.3f} "
          f"p95 {np.percentile(shifts, 95):.3f} px, score change max {score_changes.max():.4f}")
    assert np.median(shifts) <= median_px and np.percentile(shifts, 95) <= p95_px
    assert score_changes.max() <= (1e-4 if precision == "fp32" else 0.05)


def test_int8_model_is_cached_and_smaller(synthetic_people, cache):
    if "int8" not in NATIVE or "onnxruntime" not in RUNTIMES:
        pytest.skip("needs native int8 and onnxruntime")
    config, model, _, _ = synthetic_people
    runner, _ = load_precision_runner(config, precision="int8", runtime="onnxruntime", model=model, cache_dir=cache)
    int8_files = list((cache / "int8").glob("*.onnx"))
    fp32_files = list(cache.glob("*.onnx"))
    assert len(int8_files) == 1 and len(fp32_files) == 1 and runner.path == int8_files[0]
    # int8 weights: about a quarter of the float32 file
    assert int8_files[0].stat().st_size < 0.5 * fp32_files[0].stat().st_size
    again, _ = load_precision_runner(config, precision="int8", runtime="onnxruntime", model=model, cache_dir=cache)
    assert again.path == runner.path and len(list((cache / "int8").glob("*.onnx"))) == 1


def test_auto_on_a_plain_cpu_runs_fp32_and_says_so(monkeypatch, tmp_path, capsys):
    frames = tmp_path / "frames"
    frames.mkdir()
    import cv2

    for i, (frame, _) in enumerate(generate_video(3, 2)):
        cv2.imwrite(str(frames / f"{i:03d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    monkeypatch.setattr(pose.precision, "read_cpu_flags", lambda path="/proc/cpuinfo": frozenset({"avx2", "fma"}))
    code = run_main(["--video", str(frames), "--out", str(tmp_path / "out"), "--pose-model", "hrnet_synthetic",
                     "--pose-weights", "hrnet_synthetic", "--detector", "torchvision", "--set",
                     "detector.weights=none", "--set", "detector.arch=fasterrcnn_mobilenet_v3_large_320_fpn",
                     "--precision", "auto", "--runtime", "pytorch", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 0, err
    header = err.splitlines()[0]
    assert header.startswith("pose network hrnet_synthetic: fp32 on pytorch (auto: no native int8/bf16")
    assert "CPU flags: avx2" in header
    assert err.count("fp32 on pytorch (auto: no native") == 2     # run header and under the timing table
    # asking for what the simulated CPU cannot do is one clear error, no traceback
    code = run_main(["--video", str(frames), "--out", str(tmp_path / "out2"), "--pose-model", "hrnet_synthetic",
                     "--pose-weights", "hrnet_synthetic", "--precision", "bf16", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.strip() == ("error: this CPU cannot run bf16 natively (it needs amx_bf16 or avx512_bf16; CPU flags: "
                           "avx2); use --precision auto or fp32")


def test_estimator_precision_argument(synthetic_people):
    config, model, frames, reference = synthetic_people
    if "bf16" not in NATIVE:
        with pytest.raises(pose.precision.PrecisionError, match="cannot run bf16 natively"):
            TopDownPoseEstimator(model, config, precision="bf16")
        return
    estimator = TopDownPoseEstimator(model, config, precision="bf16")
    assert estimator.choice.precision == "bf16" and estimator.runner.name == "pytorch (bf16)"
    frame, boxes = frames[0]
    keypoints, scores = estimator(frame, boxes)
    assert keypoints.dtype == np.float32 and scores.dtype == np.float32
    assert np.median(np.linalg.norm(keypoints - reference[0][0], axis=-1)) <= 0.5
    with pytest.raises(ValueError, match="need a PyTorch model to convert"):
        TopDownPoseEstimator(estimator.runner, config, precision="bf16")


def test_openvino_in_graph_preprocessing_equals_numpy(synthetic_people, cache):
    """The OpenVINO runner compiles the crops' conversion and normalisation into the graph; its heatmaps equal
    those of the same model fed ``prepare_input``'s normalised float array."""
    if "openvino" not in RUNTIMES:
        pytest.skip("openvino is not installed")
    from pose.openvino_runtime import OpenVinoRunner
    from pose.runtime import InputSpec

    config, model, frames, _ = synthetic_people
    runner, _ = load_precision_runner(config, precision="fp32", runtime="openvino", model=model, cache_dir=cache)
    assert runner.takes_crops
    plain = OpenVinoRunner(runner.path, InputSpec.from_config(config), "fp32", preprocess_in_graph=False)
    assert not plain.takes_crops
    estimator = TopDownPoseEstimator(plain, config)
    crops, _, _ = estimator.crops(*frames[0])
    in_graph, numpy_prepared = runner(crops), plain(crops)
    assert in_graph.shape == numpy_prepared.shape == (len(crops), config.model.num_joints,
                                                      *config.model.heatmap_size[::-1])
    np.testing.assert_allclose(in_graph, numpy_prepared, atol=1e-5 * np.abs(numpy_prepared).max())
