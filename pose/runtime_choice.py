"""The pose network runner for a precision and a runtime: ``load_precision_runner(config, weights, ...)``.

``pose.precision`` decides *what* to run (fp32 / bf16 / fp16 / int8 on PyTorch / ONNX Runtime / OpenVINO, from the
device's native abilities); this module builds it:

- ``pytorch``: the HRNet in a ``pose.runtime.TorchRunner`` (BatchNorm folded, NHWC, weights cast to bf16/fp16);
- ``onnxruntime`` / ``openvino``: the ONNX file, i.e. the weights themselves when they are an ``.onnx`` model, else
  the HRNet exported by ``pose.export`` (BatchNorm folded by both runtimes when they load it);
- ``int8``: that ONNX file quantised by ``pose.quantize`` (calibrated on synthetic person crops, plus ``calibration``
  crops when given), run by OpenVINO or ONNX Runtime.

Exports and int8 models are cached in ``cache_dir`` (default: ``<weights cache>/onnx``) by a digest of the
model's weights, so the export (a minute or more for HRNet-W32) and the calibration run once per model.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from pose.config import Config
from pose.precision import DeviceAbilities, PrecisionChoice, device_abilities, resolve_precision
from pose.runtime import InputSpec, OnnxRunner, PoseRunner, TorchRunner, is_onnx_path, prepare_input


def default_cache_dir() -> Path:
    from pose.checkpoints import weights_dir

    return weights_dir() / "onnx"


def model_digest(model) -> str:
    """A digest of a PyTorch module's parameters and buffers (names, shapes, values): its export's cache key."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def exported_onnx(model, config: Config, cache_dir: Path) -> Path:
    """The ONNX export of ``model`` (an HRNet module) from the cache, exported first when absent."""
    from pose.export import export_model

    target = Path(cache_dir) / f"{config.name or 'hrnet'}-{model_digest(model)}.onnx"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        export_model(model, config, target)
    return target


def load_precision_runner(config: Config, weights=None, device: str = "cpu", precision: str = "fp32",
                          runtime: str = "auto", *, model=None, threads: int = 0, cache_dir: str | Path | None = None,
                          calibration: np.ndarray | None = None, abilities: DeviceAbilities | None = None,
                          ) -> tuple[PoseRunner, PrecisionChoice]:
    """The runner of ``weights`` (checkpoint, registry name, ``.onnx`` file, or None: untrained) or of an HRNet
    ``model`` already built, in the precision and runtime that ``pose.precision.resolve_precision`` picks, and
    that choice. ``calibration``: extra ``(N, h, w, 3)`` uint8 person crops for int8 (e.g. real ones)."""
    onnx_file = model is None and is_onnx_path(weights)
    abilities = abilities or device_abilities(str(device))
    choice = resolve_precision(precision, runtime, abilities, onnx_model=onnx_file)
    spec = InputSpec.from_config(config)
    if choice.runtime == "pytorch":
        if model is None:
            from pose.runtime import load_runner

            return load_runner(config, weights, device, precision=choice.precision), choice
        return TorchRunner(model, spec, device, precision=choice.precision), choice

    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if onnx_file:
        path = Path(weights)
    else:
        if model is None:
            from pose import build_model

            model = build_model(config, weights=weights, device="cpu")
        path = exported_onnx(model, config, cache)
    if choice.precision == "int8":
        path = int8_model(path, config, spec, cache, calibration)
    if choice.runtime == "openvino":
        from pose.openvino_runtime import OpenVinoRunner

        return OpenVinoRunner(path, spec, choice.precision, threads=threads, device=str(device)), choice
    return OnnxRunner(path, spec, str(device), threads=threads), choice


def int8_model(fp32_path: Path, config: Config, spec: InputSpec, cache_dir: Path,
               calibration: np.ndarray | None = None) -> Path:
    """The int8 QDQ model of an fp32 ONNX pose model, calibrated on crops in the network's own input format."""
    from pose.quantize import CALIBRATION_CROPS, CALIBRATION_SEED, cached_int8_model, calibration_crops

    def inputs() -> np.ndarray:
        return prepare_input(calibration_crops(config, extra=calibration), spec)

    extra = "none" if calibration is None else hashlib.sha256(np.ascontiguousarray(calibration)).hexdigest()[:16]
    path, _ = cached_int8_model(fp32_path, inputs, cache_dir / "int8",
                                settings=(CALIBRATION_SEED, CALIBRATION_CROPS, extra, spec))
    return path

