"""Pose network runners: person crops in, raw network outputs out, whatever runs the network.

Every runner is one call, ``runner(crops) -> outputs``: ``crops`` is a ``(B, h, w, 3)`` uint8 RGB batch cut by
``pose.inference.TopDownPoseEstimator``, ``outputs`` a float32 numpy array with B first (heatmaps ``(B, K, h', w')``
or regressed keypoints ``(B, [1,] K, 3)``, as the pose config's ``network.output`` says). The runner turns the
crops into what its network takes (``InputSpec``: size, dtype, channel order, layout, normalisation) and handles a
network whose batch size is fixed. The estimator does the rest (crops, flip test, batching, decoding).

- ``TorchRunner``: a PyTorch module (``pose.build_model``'s HRNet) or any callable on normalised NCHW tensors;
  BatchNorm folded and NHWC memory by default, normalisation on the device.
- ``OnnxRunner``: an ONNX file through ONNX Runtime; its input shape and dtype are checked against the spec.
- ``load_runner(config, weights, device)``: an ``.onnx`` path gives an ``OnnxRunner``, anything else the HRNet of
  ``pose.build_model`` in a ``TorchRunner``.

A new runtime (OpenVINO, a quantised model) is one more class with ``spec``, ``name`` and ``__call__``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from pose.checkpoints import CheckpointError
from pose.config import Config

ONNX_SUFFIX = ".onnx"
_NUMPY_DTYPES = {"float32": np.float32, "uint8": np.uint8, "int32": np.int32}
_ORT_DTYPES = {"tensor(float)": "float32", "tensor(uint8)": "uint8", "tensor(int32)": "int32"}


class RuntimeModelError(CheckpointError):
    """A pose model file that cannot run as its pose config describes it; the message says what to fix."""


@dataclass(frozen=True)
class InputSpec:
    """What a pose network takes: ``size`` (width, height) of the crop, element ``dtype``, ``layout`` nchw/nhwc,
    ``rgb`` (False: BGR), per-channel ``mean``/``std`` in pixel/255 units (both empty: raw 0-255 values)."""

    size: tuple[int, int]
    dtype: str = "float32"
    layout: str = "nchw"
    rgb: bool = True
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()

    @classmethod
    def from_config(cls, config: Config) -> "InputSpec":
        net = config.network
        return cls(tuple(int(v) for v in config.model.image_size), net.input_dtype, net.input_layout,
                   config.data.color_rgb, tuple(net.mean), tuple(net.std))

    def shape(self, batch: int | str = "B") -> tuple:
        width, height = self.size
        return (batch, 3, height, width) if self.layout == "nchw" else (batch, height, width, 3)


def prepare_input(crops: np.ndarray, spec: InputSpec) -> np.ndarray:
    """``(B, h, w, 3)`` uint8 RGB crops -> the network's input array (channel order, normalisation, dtype, layout)."""
    x = crops if spec.rgb else crops[..., ::-1]
    if spec.mean:
        mean = np.asarray(spec.mean, np.float32) * np.float32(255.0)
        std = np.asarray(spec.std, np.float32) * np.float32(255.0)
        x = (x.astype(np.float32) - mean) / std
    x = x.astype(_NUMPY_DTYPES[spec.dtype], copy=False)
    if spec.layout == "nchw":
        x = x.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x)


class PoseRunner(Protocol):
    """The one call the estimator makes: ``(B, h, w, 3)`` uint8 RGB crops -> float32 outputs, B first."""

    spec: InputSpec
    name: str                                  # what runs the network, for run headers and benchmark tables

    def __call__(self, crops: np.ndarray) -> np.ndarray: ...


class TorchRunner:
    """A PyTorch model (``(B, 3, h, w)`` normalised float -> outputs) behind the runner call.

    ``channels_last`` moves the model and inputs to NHWC memory, ``fuse_bn`` folds every BatchNorm into the
    convolution before it (:func:`pose.inference.fuse_conv_bn`), ``compile`` wraps the model in ``torch.compile``;
    a plain callable (not an ``nn.Module``) is used as it is. ``precision`` ``bf16`` / ``fp16`` casts the (folded)
    model's weights and its input to that format (``pose.precision`` decides whether the device does it natively);
    the outputs come back as float32.
    """

    def __init__(self, model, spec: InputSpec, device="cpu", *, channels_last: bool = True, fuse_bn: bool = True,
                 compile: bool = False, precision: str = "fp32"):
        import torch
        from torch import nn

        from pose.inference import fuse_conv_bn

        if spec.layout != "nchw" or spec.dtype != "float32":
            raise ValueError(f"a PyTorch pose model takes float32 NCHW input, but the config says "
                             f"{spec.dtype} {spec.layout}")
        dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
        if precision not in dtypes:
            raise ValueError(f"a PyTorch pose model runs in {', '.join(dtypes)}, not {precision!r}")
        self.spec = spec
        self.name = "pytorch" if precision == "fp32" else f"pytorch ({precision})"
        self.device = torch.device(device)
        self._torch = torch
        self._format = torch.channels_last if channels_last else torch.contiguous_format
        self._dtype = dtypes[precision]
        if isinstance(model, nn.Module):
            model = model.to(self.device).eval()
            if fuse_bn:
                model = fuse_conv_bn(model)
            if channels_last:
                model = model.to(memory_format=torch.channels_last)
            model = model.to(self._dtype)
        elif precision != "fp32":
            raise ValueError(f"precision {precision} needs a PyTorch module to cast, not {type(model).__name__}")
        self.model = torch.compile(model) if compile else model
        mean = spec.mean or (0.0, 0.0, 0.0)
        std = spec.std or (1 / 255.0,) * 3
        self.mean = torch.tensor(mean, device=self.device).view(1, 3, 1, 1) * 255.0
        self.std = torch.tensor(std, device=self.device).view(1, 3, 1, 1) * 255.0

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(crops)).to(self.device, non_blocking=True)
            if not self.spec.rgb:
                x = x.flip(3)  # a model trained on BGR input
            x = x.permute(0, 3, 1, 2).float()   # NHWC memory seen as NCHW: already channels_last
            x = ((x - self.mean) / self.std).to(self._dtype).contiguous(memory_format=self._format)
            return self.model(x).float().cpu().numpy()


class OnnxRunner:
    """An ONNX pose model run by ONNX Runtime.

    The file's first input must have the spec's layout, size and dtype (a dimension given by name is free); a
    batch dimension fixed in the file (MoveNet's 1) is served by running chunks of that size, the last one
    padded. ``providers``: ONNX Runtime execution providers (default: CUDA when ``device`` is cuda and
    onnxruntime has it, else CPU); ``threads``: intra-op threads (0 = onnxruntime's default).
    """

    def __init__(self, path: str | Path, spec: InputSpec, device: str = "cpu",
                 providers: list[str] | None = None, threads: int = 0):
        try:
            import onnxruntime
        except ImportError:
            raise RuntimeModelError("onnxruntime is not installed, so the ONNX pose model cannot run; "
                                    "pip install onnxruntime") from None
        path = Path(path)
        if not path.is_file():
            raise RuntimeModelError(f"ONNX pose model {path} does not exist; give the path of an .onnx file "
                                    f"with --pose-weights")
        if providers is None:
            providers = ["CPUExecutionProvider"]
            if str(device).startswith("cuda"):
                if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
                    raise RuntimeModelError("this onnxruntime has no CUDA provider, so the ONNX pose model cannot "
                                            "run on the GPU; install onnxruntime-gpu or use --device cpu")
                providers.insert(0, "CUDAExecutionProvider")
        try:
            self.session = onnx_session(path, providers, threads)
        except OnnxLoadError as error:
            raise RuntimeModelError(f"{path} is not an ONNX model onnxruntime can load ({error}); "
                                    f"give an .onnx pose model") from None
        self.spec = spec
        self.path = path
        self.name = f"onnxruntime ({', '.join(p.replace('ExecutionProvider', '') for p in providers)})"
        first = self.session.get_inputs()[0]
        self.input_name = first.name
        self.batch = _check_input(path, first.shape, first.type, spec)

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        return run_in_batches(prepare_input(crops, self.spec), self.batch, self._run)

    def _run(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.session.run(None, {self.input_name: x})[0], np.float32)


def onnx_session(path: Path, providers: list[str], threads: int = 0):
    """An ONNX Runtime session on ``providers`` whose waiting threads sleep instead of spinning (spinning threads
    are several times slower on shared cores); ``threads`` 0 leaves the intra-op thread count to onnxruntime.
    Raises ``OnnxLoadError`` (the onnxruntime error's type name) when the file is not a model it can load."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=providers)
    except Exception as error:  # noqa: BLE001 - onnxruntime raises its own non-exported exception types
        raise OnnxLoadError(type(error).__name__) from None


class OnnxLoadError(ValueError):
    """onnxruntime could not load a file as a model."""


def run_in_batches(x: np.ndarray, batch: int | None, run: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``run(x)`` for a network whose batch size is free (``batch`` None), else chunks of ``batch``, the last one
    padded with zeros (and its padding cut from the outputs)."""
    if batch is None or len(x) == batch:
        return run(x)
    outputs = []
    for start in range(0, len(x), batch):
        chunk = x[start:start + batch]
        missing = batch - len(chunk)
        if missing:
            chunk = np.concatenate([chunk, np.zeros((missing,) + chunk.shape[1:], chunk.dtype)])
        outputs.append(run(chunk)[:batch - missing])
    return np.concatenate(outputs)


def _check_input(path: Path, shape: list, type_name: str, spec: InputSpec) -> int | None:
    """The fixed batch size of an ONNX input (None when free), after checking it against ``spec``."""
    expected = spec.shape()
    fixed = [d if isinstance(d, int) and d > 0 else None for d in shape]
    wrong = len(shape) != 4 or any(f is not None and f != e for f, e in zip(fixed[1:], expected[1:]))
    if wrong:
        shown = "x".join(str(d) if d is not None else "?" for d in fixed)
        raise RuntimeModelError(
            f"{path} takes input of shape {shown} but its pose config says {'x'.join(map(str, expected))} "
            f"({spec.layout}, width {spec.size[0]}, height {spec.size[1]}); give the --pose-model config that "
            f"describes this model (model.image_size, network.input_layout)")
    dtype = _ORT_DTYPES.get(type_name, type_name)
    if dtype != spec.dtype:
        raise RuntimeModelError(f"{path} takes {dtype} input but its pose config says network.input_dtype "
                                f"{spec.dtype}; give the --pose-model config that describes this model")
    return fixed[0]


def is_onnx_path(weights: str | Path | None) -> bool:
    return weights is not None and str(weights).lower().endswith(ONNX_SUFFIX)


def load_runner(config: Config, weights: str | Path | None, device: str = "cpu", **options) -> PoseRunner:
    """The runner for ``weights``: an ``.onnx`` path runs in ONNX Runtime, anything else (a checkpoint path, a
    registry name, None for untrained) is the HRNet of ``pose.build_model``. ``options`` go to the runner (the
    PyTorch-only ``channels_last``, ``fuse_bn``, ``compile`` do not apply to an ONNX model and are left out)."""
    spec = InputSpec.from_config(config)
    if is_onnx_path(weights):
        torch_only = ("channels_last", "fuse_bn", "compile")
        return OnnxRunner(weights, spec, device, **{k: v for k, v in options.items() if k not in torch_only})
    if config.network.output != "heatmaps":
        raise RuntimeModelError(f"pose config {config.name!r} describes a {config.network.output} model, which "
                                f"only runs from its .onnx file; give --pose-weights PATH.onnx")
    from pose import build_model

    return TorchRunner(build_model(config, weights=weights, device=device), spec, device, **options)


def as_runner(model: PoseRunner | Callable, config: Config, device="cpu", **options) -> PoseRunner:
    """``model`` as a runner: a runner as it is; a PyTorch module or tensor callable wrapped in a ``TorchRunner``."""
    if hasattr(model, "spec") and hasattr(model, "name") and not _is_torch_module(model):
        return model
    return TorchRunner(model, InputSpec.from_config(config), device, **options)


def _is_torch_module(model) -> bool:
    from torch import nn

    return isinstance(model, nn.Module)
