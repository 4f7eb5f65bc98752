"""Export an HRNet pose model to ONNX, with a free batch size, for ONNX Runtime (and other ONNX runtimes).

    python -m pose.export --config coco_w32_256x192 --weights pose_hrnet_w32_256x192.pth --out hrnet.onnx

The file takes ``images`` float32 ``(batch, 3, height, width)`` (RGB, ImageNet mean/std, as the config's
``network`` section says) and gives ``heatmaps`` ``(batch, K, height/4, width/4)``; the batch axis is dynamic.
Run it with the same config: ``python -m tracker.run ... --pose-weights hrnet.onnx --pose-model coco_w32_256x192``.
After writing, the export is checked: ONNX Runtime and PyTorch run the same random batch and the largest heatmap
difference is printed. The file appears only when the export and the check succeeded.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from pose.checkpoints import CheckpointError
from pose.config import Config, ConfigError, load_config
from pose.fileio import atomic_path

OPSET = 18                   # the torch.export-based exporter's own opset
# The export check fails above this |ONNX Runtime - PyTorch| heatmap difference, relative to the heatmaps' largest
# magnitude: float32 reordering gives about 1e-6; a wrong graph gives differences of the heatmaps' own size.
MAX_RELATIVE_DIFFERENCE = 1e-3
INPUT_NAME, OUTPUT_NAME = "images", "heatmaps"


class ExportError(ValueError):
    """The model cannot be exported as asked; the message names the fix."""


def export_onnx(config: Config, weights: str | None, out: str | Path, opset: int = OPSET) -> float:
    """Write the HRNet of ``config`` with ``weights`` (a checkpoint path, a registry name, or None for untrained)
    to ``out`` as ONNX with a dynamic batch axis. Returns the largest |ONNX Runtime - PyTorch| heatmap difference
    on a random batch of 2."""
    from pose import build_model

    if config.network.output != "heatmaps":
        raise ExportError(f"pose config {config.name!r} describes a {config.network.output} model that is already an "
                          f"ONNX file; only this project's HRNet configs export")
    _check_packages()
    return export_model(build_model(config, weights=weights, device="cpu"), config, out, opset)


def _check_packages() -> None:
    for package in ("onnx", "onnxscript"):
        try:
            __import__(package)
        except ImportError:
            raise ExportError(f"exporting to ONNX needs the {package} package; pip install 'posetrack[onnx]' "
                              f"(or pip install onnx onnxscript)") from None


def export_model(model, config: Config, out: str | Path, opset: int = OPSET) -> float:
    """:func:`export_onnx` for an HRNet module already built (e.g. the one a ``TopDownPoseEstimator`` was given)."""
    import torch

    _check_packages()
    model = model.to("cpu").eval()
    width, height = (int(v) for v in config.model.image_size)
    example = torch.zeros(2, 3, height, width)   # batch 2: torch.export would specialise a batch of 1
    batch = torch.export.Dim("batch", min=1, max=4096)
    out = Path(out)
    with atomic_path(out, suffix=".onnx") as temporary:
        # torch.export-based exporter (the default since PyTorch 2.9), weights inside the one file
        torch.onnx.export(model, (example,), str(temporary), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          dynamic_shapes=({0: batch},), opset_version=opset, dynamo=True, external_data=False,
                          verbose=False)
        return _check_export(model, temporary, height, width)


def _check_export(model, path: Path, height: int, width: int) -> float:
    """Largest |ONNX Runtime - PyTorch| over the heatmaps of a random (2, 3, height, width) batch; ExportError (and no
    file: the caller's ``atomic_path`` drops it) when it exceeds MAX_RELATIVE_DIFFERENCE of their magnitude."""
    import onnxruntime
    import torch

    x = torch.randn(2, 3, height, width, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected = model(x).numpy()
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {INPUT_NAME: x.numpy()})[0]
    difference = float(np.abs(got - expected).max())
    scale = max(float(np.abs(expected).max()), 1e-12)
    if not difference <= MAX_RELATIVE_DIFFERENCE * scale:
        raise ExportError(f"the exported model does not reproduce PyTorch: heatmaps differ by {difference:.3g} "
                          f"(largest heatmap value {scale:.3g}); no file was written. Report the torch, onnx and "
                          f"onnxruntime versions, or try another --opset")
    return difference


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pose.export",
                                     description="Export an HRNet pose model to ONNX (dynamic batch).")
    parser.add_argument("--config", required=True, help="pose config name in configs/pose/ or a YAML path")
    parser.add_argument("--weights", required=True,
                        help="checkpoint path or registry name ('random' = untrained weights, for testing)")
    parser.add_argument("--out", required=True, help="the .onnx file to write")
    parser.add_argument("--opset", type=int, default=OPSET, help=f"ONNX opset (default {OPSET})")
    args = parser.parse_args(argv)
    try:
        if not args.out.lower().endswith(".onnx"):
            raise ExportError(f"--out {args.out} must end in .onnx (tracker.run picks ONNX Runtime by that suffix)")
        config = load_config(args.config)
        difference = export_onnx(config, None if args.weights == "random" else args.weights, args.out, args.opset)
    except (ConfigError, CheckpointError, ExportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: cannot write {args.out} ({error.strerror}); choose a writable --out path", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {config.name} with a dynamic batch axis, input {INPUT_NAME} "
          f"(batch, 3, {config.model.image_size[1]}, {config.model.image_size[0]}), output {OUTPUT_NAME}; "
          f"ONNX Runtime vs PyTorch max heatmap difference {difference:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
