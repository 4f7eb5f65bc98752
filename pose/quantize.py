"""int8 pose networks: post-training static quantisation of an ONNX model, calibrated on person crops.

``quantize_onnx(fp32_path, out_path, inputs)`` writes an int8 model in ONNX Runtime's QDQ format (quantise /
dequantise pairs around every convolution), which both ONNX Runtime and OpenVINO run with int8 kernels:

- weights int8 per output channel (symmetric), activations uint8 per tensor (the u8 x s8 products of VNNI/AMX);
- ranges calibrated on ``inputs``: the prepared network inputs of real-looking person crops (:func:`calibration_crops`
  cuts them, with their mirror images as the flip test feeds them, from synthetic frames of
  ``pose.data.synthetic`` plus any extra crops given, e.g. real ones);
- BatchNorm is folded into the convolutions before (the exporter's fused model, and ONNX Runtime's pre-processing
  folds any left), so one scale per channel covers conv + BN;
- the last layer (the one writing the network's output) stays float: the heatmaps keep their full resolution
  for the sub-pixel quarter offset and the maxima used as scores.

:func:`cached_int8_model` keeps the result next to the weights cache, keyed by the fp32 model's bytes and the
calibration settings, so the calibration (tens of seconds for HRNet-W32) runs once per model.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from pose.config import Config
from pose.transforms import person_crops, with_mirrored
from posetrack_common.weights_cache import sha256_of

CALIBRATION_SEED = 1234       # synthetic videos for calibration: a seed neither training (1, 2) nor the accuracy
                              # benchmark (7) uses
CALIBRATION_CROPS = 32        # people per calibration set (64 network inputs with their mirror images)
QUANTIZE_VERSION = 1          # part of the cache key: bump when the recipe below changes


class QuantizeError(ValueError):
    """The model cannot be quantised (a missing package, a model ONNX Runtime cannot prepare or calibrate)."""


def config_crops(image_rgb: np.ndarray, boxes_xyxy: np.ndarray, config: Config) -> np.ndarray:
    """``(N, h, w, 3)`` uint8 crops of the boxes as the estimator of ``config`` cuts them."""
    return person_crops(image_rgb, boxes_xyxy, config.model.image_size, config.data.box_padding)[0]


def calibration_crops(config: Config, count: int = CALIBRATION_CROPS, seed: int = CALIBRATION_SEED,
                      extra: np.ndarray | None = None, flip: bool = True) -> np.ndarray:
    """``count`` person crops from synthetic videos (every 5th frame of as many videos as needed), then ``extra``
    crops (already cut), then the mirror images of all when ``flip``; uint8 ``(M, h, w, 3)``."""
    from pose.data.synthetic import generate_video

    crops: list[np.ndarray] = []
    total, video = 0, 0
    while total < count:
        for t, (frame, truth) in enumerate(generate_video(seed, 20, video_index=video)):
            if t % 5 or not len(truth.boxes):
                continue
            cut = config_crops(frame, truth.boxes, config)[: count - total]
            crops.append(cut)
            total += len(cut)
            if total >= count:
                break
        video += 1
    if extra is not None and len(extra):
        crops.append(np.asarray(extra, np.uint8))
    every = np.concatenate(crops)
    return with_mirrored(every) if flip else every


def _output_node(model) -> list[str]:
    """Names of the nodes that write the graph's outputs (kept in float)."""
    outputs = {o.name for o in model.graph.output}
    return [node.name for node in model.graph.node if set(node.output) & outputs and node.name]


def quantize_onnx(fp32_path: str | Path, out_path: str | Path, inputs: np.ndarray, batch: int = 8,
                  input_name: str | None = None) -> Path:
    """Write the int8 QDQ model of ``fp32_path`` to ``out_path``, calibrated on ``inputs`` (prepared network
    inputs, batch first; fed ``batch`` at a time, or the model's own batch size when it is fixed)."""
    try:
        import onnx
        from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType
        from onnxruntime.quantization import quantize_static
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError as error:
        raise QuantizeError(f"int8 needs the onnx and onnxruntime packages ({error.name} is missing); "
                            f"pip install 'posetrack[fast]' or use another --precision") from None

    fp32_path, out_path = Path(fp32_path), Path(out_path)
    first = onnx.load(str(fp32_path), load_external_data=False).graph.input[0]
    name = input_name or first.name
    fixed = first.type.tensor_type.shape.dim[0].dim_value if first.type.tensor_type.shape.dim else 0
    batch = fixed or batch    # a model with a fixed batch (MoveNet: 1) is calibrated at that batch

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._batches = iter(range(0, len(inputs), batch))

        def get_next(self):
            start = next(self._batches, None)
            return None if start is None else {name: np.ascontiguousarray(inputs[start:start + batch])}

    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(out_path.name + ".partial")
    try:
        with tempfile.TemporaryDirectory() as work:
            prepared = Path(work) / "prepared.onnx"
            # shape inference + graph optimisation (folds any BatchNorm left into its convolution)
            quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
            model = onnx.load(str(prepared), load_external_data=False)
            quantize_static(
                str(prepared), str(partial), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=_output_node(model),
            )
            os.replace(partial, out_path)
    except Exception as error:  # noqa: BLE001 - ONNX Runtime's quantiser raises many types
        raise QuantizeError(f"ONNX Runtime could not quantise {fp32_path} ({type(error).__name__}: {error}); run "
                            f"this model with --precision fp32 or bf16") from None
    finally:
        partial.unlink(missing_ok=True)
    return out_path


def cached_int8_model(fp32_path: str | Path, make_inputs: Callable[[], np.ndarray], cache_dir: str | Path,
                      settings: Iterable = ()) -> tuple[Path, bool]:
    """The int8 model of ``fp32_path`` from ``cache_dir``, quantised first if absent (``make_inputs()`` gives
    the calibration inputs then). Returns the path and whether it came from the cache."""
    digest = hashlib.sha256(sha256_of(Path(fp32_path)).encode())
    digest.update(repr((QUANTIZE_VERSION, *settings)).encode())
    target = Path(cache_dir) / f"{Path(fp32_path).stem}-int8-{digest.hexdigest()[:16]}.onnx"
    if target.is_file():
        return target, True
    return quantize_onnx(fp32_path, target, make_inputs()), False
