"""OpenVINO as a pose network runner: an ONNX pose model (fp32 or int8 QDQ) compiled for the CPU.

``OpenVinoRunner(path, spec, precision)`` has the runner call of ``pose.runtime``: ``(B, h, w, 3)`` uint8 crops ->
float32 outputs, B first. ``precision`` is OpenVINO's inference precision hint: ``fp32`` keeps every layer in
float32 (OpenVINO's own default on a CPU with AMX would be bf16), ``bf16`` and ``fp16`` run the float layers in
that format, ``int8`` expects a quantised (QDQ) model and runs its quantised layers in int8 and the rest in float32.
Outputs come back as float32 whatever the precision, so flip averaging, the shift, the quarter offset and the
maxima are computed in float32 by the estimator. For a float NCHW RGB model (HRNet) the uint8 crops go in as they
are: converting and normalising them is compiled into the graph.

A dynamic batch axis compiles once; a model with a fixed batch is fed chunks of that size, the last padded.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pose.runtime import InputSpec, RuntimeModelError, _check_input, prepare_input, run_in_batches

# OpenVINO's INFERENCE_PRECISION_HINT for each precision (int8: the quantised layers are int8 by the model's QDQ
# nodes; the float ones stay f32).
INFERENCE_PRECISION = {"fp32": "f32", "bf16": "bf16", "fp16": "f16", "int8": "f32"}
_OV_DTYPES = {"f32": "float32", "u8": "uint8", "i32": "int32"}


class OpenVinoRunner:
    """An ONNX pose model run by OpenVINO on the CPU (``threads``: inference threads, 0 = OpenVINO's default;
    ``preprocess_in_graph``: False converts and normalises the crops in numpy, as the other runtimes do)."""

    def __init__(self, path: str | Path, spec: InputSpec, precision: str = "fp32", threads: int = 0,
                 device: str = "cpu", preprocess_in_graph: bool = True):
        try:
            import openvino
        except ImportError:
            raise RuntimeModelError("the openvino runtime is not installed; pip install 'posetrack[fast]' or use "
                                    "--runtime onnxruntime or pytorch") from None
        if str(device) != "cpu":
            raise RuntimeModelError(f"the openvino runtime runs on the CPU here, not {device}; use --runtime "
                                    f"pytorch on a GPU")
        if precision not in INFERENCE_PRECISION:
            raise ValueError(f"precision must be one of {', '.join(INFERENCE_PRECISION)}, got {precision!r}")
        path = Path(path)
        if not path.is_file():
            raise RuntimeModelError(f"ONNX pose model {path} does not exist; give the path of an .onnx file")
        core = openvino.Core()
        try:
            model = core.read_model(str(path))
        except Exception as error:  # noqa: BLE001 - OpenVINO raises RuntimeError subclasses of its own
            raise RuntimeModelError(f"{path} is not an ONNX model OpenVINO can read ({type(error).__name__}); "
                                    f"give an .onnx pose model") from None
        first = model.inputs[0]
        shape = [d.get_length() if d.is_static else None for d in first.get_partial_shape()]
        dtype = _OV_DTYPES.get(first.get_element_type().get_type_name(), first.get_element_type().get_type_name())
        self.batch = _check_input(path, shape, f"tensor({'float' if dtype == 'float32' else dtype})", spec)
        self.takes_crops = preprocess_in_graph and spec.rgb and spec.layout == "nchw" and dtype == "float32"
        if self.takes_crops:
            model = _with_preprocessing(openvino, model, spec)
        options = {"INFERENCE_PRECISION_HINT": INFERENCE_PRECISION[precision], "PERFORMANCE_HINT": "LATENCY"}
        if threads:
            options["INFERENCE_NUM_THREADS"] = int(threads)
        self.compiled = core.compile_model(model, "CPU", options)
        self.request = self.compiled.create_infer_request()
        self.spec = spec
        self.path = path
        self.precision = precision
        self.name = f"openvino ({precision})"

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        if self.takes_crops:
            return run_in_batches(np.ascontiguousarray(crops, np.uint8), self.batch, self._run)
        return run_in_batches(prepare_input(crops, self.spec), self.batch, self._run)

    def _run(self, x: np.ndarray) -> np.ndarray:
        result = self.request.infer({0: x})
        return np.array(result[self.compiled.outputs[0]], np.float32)   # a copy: the request reuses its buffer


def _with_preprocessing(openvino, model, spec: InputSpec):
    """``model`` taking the crops themselves, ``(B, h, w, 3)`` uint8 RGB: the conversion to float, the
    normalisation and the move to NCHW become the graph's first steps (``pose.runtime.prepare_input`` in numpy was
    about a tenth of the int8 network's time; OpenVINO folds them into the first convolution)."""
    from openvino.preprocess import PrePostProcessor

    steps = PrePostProcessor(model)
    steps.input(0).tensor().set_element_type(openvino.Type.u8).set_layout(openvino.Layout("NHWC"))
    steps.input(0).model().set_layout(openvino.Layout("NCHW"))
    steps.input(0).preprocess().convert_element_type(openvino.Type.f32)
    if spec.mean:
        steps.input(0).preprocess().mean([255.0 * m for m in spec.mean]).scale([255.0 * s for s in spec.std])
    return steps.build()
