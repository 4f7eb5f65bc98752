"""Top-down pose estimation for one frame: person boxes in, keypoints in image pixels out.

``TopDownPoseEstimator(model, config)(image_rgb, boxes_xyxy) -> (keypoints (N, K, 2), scores (N, K))``:

1. every box -> center/scale with the crop's aspect ratio and 1.25 padding (``pose.transforms``);
2. all crops of the frame cut with one affine each (bilinear) and stacked into one batch;
3. the batch goes to the pose network runner (``pose.runtime``: PyTorch HRNet or an ONNX Runtime session), which
   makes the network's input (HRNet: RGB, ImageNet mean/std, as the official ``ToTensor`` + ``Normalize``);
4. one runner call per chunk of at most ``max_batch`` images; with the flip test the mirrored crops ride in the
   same batch and their outputs are flipped back (heatmaps: mirrored, pairs swapped, shifted one pixel, averaged as
   the official ``validate``; regressed keypoints: x mirrored, pairs swapped, averaged);
5. decoded and mapped back to image pixels: heatmaps by arg-max + quarter offset or DARK (``pose.decode``),
   regressed keypoints (the config's ``network.output: keypoints``, MoveNet's y, x in 0-1 of the crop) through the
   inverse of the crop's affine transform.

Scores are the heatmap maxima per joint, as the official code's ``maxvals``, or the network's joint scores.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from pose.config import IMAGENET_MEAN, IMAGENET_STD, Config, load_config  # noqa: F401 (the constants: re-exported)
from pose.decode import average_flip, decode_heatmaps
from pose.keypoints import get_layout
from pose.runtime import PoseRunner, as_runner, load_runner
from pose.transforms import affine_points, flip_permutation, get_affine_transform, person_crops, with_mirrored


class TopDownPoseEstimator:
    """Runs a pose network on person crops of RGB frames.

    ``model``: a ``pose.runtime`` runner (``load_runner``: PyTorch HRNet or an ONNX file), or a PyTorch model /
    callable on tensors mapping ``(B, 3, h, w)`` normalised crops to ``(B, K, h/4, w/4)`` heatmaps (wrapped in a
    ``TorchRunner``).
    ``config``: its ``pose.config.Config``: ``model.image_size``, ``model.keypoints`` (flip pairs),
    ``data.box_padding``, ``data.color_rgb``, the ``network`` section (input, output kind) and the ``test``
    section (flip test, shift, quarter offset).
    Options: ``flip_test`` / ``shift_heatmap`` / ``post_process`` override the config; ``refine="dark"`` for
    DARK sub-pixel decoding; ``max_batch`` caps the network batch (flipped copies included; default 8 on
    CPU, 64 on GPU); for a PyTorch model, ``channels_last`` moves the model and inputs to NHWC memory and
    ``fuse_bn`` folds every BatchNorm into the convolution before it (:func:`fuse_conv_bn`); both are on by
    default, the fastest CPU path that ``benchmarks/pose_speed.py`` measured; ``compile`` wraps the model in
    ``torch.compile``. ``precision`` (``fp32``, ``bf16``, ``fp16``, ``int8`` or ``auto``) and ``runtime``
    (``pytorch``, ``onnxruntime``, ``openvino`` or ``auto``) run a PyTorch model in another number format or
    runtime (``pose.runtime_choice``; the choice and its reason are in ``self.choice``); the outputs are float32
    before flip averaging and decoding whatever the precision. ``choice``: the ``PrecisionChoice`` of a runner
    that ``pose.runtime_choice.load_precision_runner`` already made (kept for run headers).
    """

    def __init__(
        self,
        model: PoseRunner | nn.Module | Callable[[torch.Tensor], torch.Tensor],
        config: Config,
        device: str | torch.device = "cpu",
        *,
        flip_test: bool | None = None,
        shift_heatmap: bool | None = None,
        post_process: bool | None = None,
        refine: str | None = None,
        max_batch: int | None = None,
        channels_last: bool = True,
        fuse_bn: bool = True,
        compile: bool = False,
        precision: str = "fp32",
        runtime: str = "pytorch",
        choice=None,
    ):
        self.device = torch.device(device)
        if max_batch is None:
            # CPU convolutions run fastest at a network batch of about 8 (benchmarks/pose_speed.py); GPUs like more
            max_batch = 8 if self.device.type == "cpu" else 64
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        if refine not in (None, "dark"):
            raise ValueError(f"refine must be None or 'dark', got {refine!r}")
        self.config = config
        self.image_size = tuple(int(v) for v in config.model.image_size)        # (width, height)
        self.heatmap_size = tuple(int(v) for v in config.model.heatmap_size)    # (width, height)
        self.box_padding = config.data.box_padding
        self.output = config.network.output                                     # heatmaps | keypoints
        layout = get_layout(config.model.keypoints)
        if layout.num_joints != config.model.num_joints:
            raise ValueError(
                f"config model.keypoints {layout.name!r} has {layout.num_joints} joints but model.num_joints is "
                f"{config.model.num_joints}; make them agree"
            )
        self.num_joints = layout.num_joints
        self.flip_pairs = layout.flip_pairs
        self.flip_test = config.test.flip_test if flip_test is None else flip_test
        self.shift_heatmap = config.test.shift_heatmap if shift_heatmap is None else shift_heatmap
        self.post_process = config.test.post_process if post_process is None else post_process
        self.refine = refine
        self.max_batch = max_batch
        self.choice = choice    # pose.precision.PrecisionChoice when precision / runtime picked the runner
        if (precision, runtime) == ("fp32", "pytorch") or not isinstance(model, nn.Module):
            if (precision, runtime) not in (("fp32", "pytorch"), ("fp32", "auto")):
                raise ValueError(f"precision={precision!r} / runtime={runtime!r} need a PyTorch model to convert; "
                                 f"this {type(model).__name__} already runs as it is")
            self.runner = as_runner(model, config, self.device, channels_last=channels_last, fuse_bn=fuse_bn,
                                    compile=compile)
        else:
            from pose.runtime_choice import load_precision_runner

            self.runner, self.choice = load_precision_runner(config, device=str(self.device), precision=precision,
                                                             runtime=runtime, model=model)

    @property
    def model(self):
        """The PyTorch model behind a ``TorchRunner`` (None for other runtimes)."""
        return getattr(self.runner, "model", None)

    @classmethod
    def from_config(
        cls, name: str | Path | Config, weights: str | Path | None = None, device: str = "cpu", layout: str = "",
        **options
    ) -> "TopDownPoseEstimator":
        """An estimator for a config name/path (``coco_w32_256x192``) and weights: a checkpoint or registry name
        (HRNet from ``pose.build_model``) or an ``.onnx`` file (ONNX Runtime), see ``pose.runtime.load_runner``.
        Flip pairs and joints follow the weights' keypoint layout (``pose.weights_layout``: ``layout`` if given, else
        the registry entry of named weights, else the config), which ``estimator.config.model.keypoints`` holds."""
        from pose.weights_layout import config_for_weights

        config = name if isinstance(name, Config) else load_config(name)
        config = config_for_weights(config, weights, layout)
        runner_options = {k: options.pop(k) for k in ("channels_last", "fuse_bn", "compile") if k in options}
        precision, runtime = options.pop("precision", "fp32"), options.pop("runtime", "pytorch")
        if (precision, runtime) != ("fp32", "pytorch"):
            if runner_options:
                raise ValueError(f"{', '.join(runner_options)} apply to the fp32 PyTorch runner only, not to "
                                 f"precision={precision!r} / runtime={runtime!r}")
            from pose.runtime_choice import load_precision_runner

            runner, choice = load_precision_runner(config, weights, str(device), precision, runtime)
            return cls(runner, config, device=device, choice=choice, **options)
        return cls(load_runner(config, weights, device, **runner_options), config, device=device, **options)

    # -----------------------------------------------------------------------------------------------------------
    def crops(self, image_rgb: np.ndarray, boxes_xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(N, h, w, 3)`` uint8 crops and their ``center (N, 2)``, ``scale (N, 2)``."""
        return person_crops(image_rgb, boxes_xyxy, self.image_size, self.box_padding)

    def outputs(self, crops: np.ndarray) -> np.ndarray:
        """Network outputs for ``(N, h, w, 3)`` crops, flip-averaged when the flip test is on: heatmaps
        ``(N, K, h/4, w/4)``, or keypoints ``(N, K, 3)`` (y, x in 0-1 of the crop, score)."""
        per_pass = self.max_batch // 2 if self.flip_test else self.max_batch
        per_pass = max(per_pass, 1)
        outputs = []
        for start in range(0, len(crops), per_pass):
            chunk = crops[start:start + per_pass]
            if self.flip_test:
                both = self._unbatch(self.runner(with_mirrored(chunk)))
                n = len(chunk)
                outputs.append(self._average_flip(both[:n], both[n:]))
            else:
                outputs.append(self._unbatch(self.runner(chunk)))
        return np.concatenate(outputs)

    def heatmaps(self, crops: np.ndarray) -> np.ndarray:
        """Heatmaps ``(N, K, h/4, w/4)`` float32 (flip-averaged when the flip test is on) for ``(N, h, w, 3)``
        crops, of a heatmap model."""
        if self.output != "heatmaps":
            raise ValueError(f"this pose model regresses {self.output}; it has no heatmaps")
        return self.outputs(crops)

    def _unbatch(self, out: np.ndarray) -> np.ndarray:
        """Runner outputs as float32 ``(B, K, h, w)`` heatmaps or ``(B, K, 3)`` keypoints (MoveNet: ``(B, 1, K, 3)``)."""
        out = np.asarray(out, np.float32)
        if self.output == "keypoints":
            out = out.reshape(len(out), -1, 3)
            expected, ndim = "(B, K, 3)", 3
        else:
            expected, ndim = "(B, K, h, w)", 4
        if out.ndim != ndim or out.shape[1] != self.num_joints:
            raise ValueError(f"the pose network gave outputs of shape {out.shape}, expected {expected} {self.output} "
                             f"with K = {self.num_joints} joints ({self.config.model.keypoints}); check the pose "
                             f"config's network.output and model.keypoints")
        return out

    def _average_flip(self, plain: np.ndarray, flipped: np.ndarray) -> np.ndarray:
        if self.output == "heatmaps":
            return average_flip(plain, flipped, self.flip_pairs, shift=self.shift_heatmap)
        back = flipped[:, flip_permutation(self.flip_pairs, self.num_joints)].copy()
        back[..., 1] = 1.0 - back[..., 1]   # x of a mirrored crop: pixel i <-> width-1-i, i.e. u <-> 1 - u
        return (plain + back) * np.float32(0.5)

    def _decode_keypoints(self, keypoints: np.ndarray, center: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """``(N, K, 3)`` y, x in 0-1 of the crop -> ``(N, K, 2)`` image pixels (x, y), through the inverse crop
        affine. A normalised u covers the crop's extent: pixel centres at (i + 0.5) / size, so i = u * size - 0.5."""
        width, height = self.image_size
        crop_xy = np.stack([keypoints[..., 1] * width, keypoints[..., 0] * height], axis=2) - 0.5
        inverse = get_affine_transform(center, scale, 0, self.image_size, inv=True)
        return affine_points(crop_xy, inverse).astype(np.float32)

    def __call__(self, image_rgb: np.ndarray, boxes_xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints ``(N, K, 2)`` float32 image pixels (x, y) and scores ``(N, K)`` float32 for ``N`` boxes."""
        keypoints, scores, _ = self.estimate(image_rgb, boxes_xyxy)
        return keypoints, scores

    def estimate(self, image_rgb: np.ndarray, boxes_xyxy: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """As ``__call__``, plus the heatmaps ``(N, K, h, w)`` float32 the keypoints were decoded from (None for a
        model that regresses keypoints)."""
        image_rgb = np.asarray(image_rgb)
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
            raise ValueError(
                f"image must be an (H, W, 3) uint8 RGB array, got shape {image_rgb.shape} dtype {image_rgb.dtype}"
            )
        boxes = np.asarray(boxes_xyxy, dtype=np.float64)
        if boxes.size == 0:
            boxes = boxes.reshape(0, 4)
        if boxes.ndim == 1 and boxes.shape == (4,):
            boxes = boxes[None]
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f"boxes_xyxy must be (N, 4) [x1, y1, x2, y2], got shape {boxes.shape}")
        if len(boxes) == 0:
            width, height = self.heatmap_size
            empty = np.zeros((0, self.num_joints, height, width), np.float32) if self.output == "heatmaps" else None
            return np.zeros((0, self.num_joints, 2), np.float32), np.zeros((0, self.num_joints), np.float32), empty
        if not np.all(np.isfinite(boxes)):
            raise ValueError("boxes_xyxy contains NaN or infinite values; pass finite [x1, y1, x2, y2] boxes")
        crops, center, scale = self.crops(image_rgb, boxes)
        if self.output == "keypoints":
            regressed = self.outputs(crops)
            return self._decode_keypoints(regressed, center, scale), regressed[..., 2].copy(), None
        heatmaps = self.outputs(crops)
        keypoints, maxvals = decode_heatmaps(heatmaps, center, scale, post_process=self.post_process,
                                             refine=self.refine)
        return (keypoints.astype(np.float32), maxvals[..., 0].astype(np.float32),
                heatmaps.astype(np.float32, copy=False))


def flip_test_heatmaps(model: nn.Module, x: torch.Tensor, flip_pairs, shift: bool,
                       memory_format: torch.memory_format = torch.contiguous_format) -> torch.Tensor:
    """The flip test (official ``flip_back`` + averaging): heatmaps ``(B, K, h, w)`` of the inputs ``(B, 3, H, W)``
    averaged with those of their mirror images, both halves in one forward pass."""
    both = model(torch.cat([x, x.flip(3)], dim=0).contiguous(memory_format=memory_format))
    n = x.shape[0]
    return average_flip(both[:n], both[n:], flip_pairs, shift=shift)


def fuse_conv_bn(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` with each BatchNorm folded into the convolution that feeds it.

    Uses ``torch.fx`` to find conv -> BN pairs, so the model's ``forward`` must be traceable (HRNet is); outputs
    agree with the original to float32 rounding (about 1e-6 of their scale).
    """
    from torch.fx.experimental.optimization import fuse

    try:
        return fuse(model.eval(), inplace=False)
    except Exception as error:  # torch.fx raises many types for untraceable forwards
        raise ValueError(
            f"cannot fold BatchNorm into convolutions for {type(model).__name__} ({error}); use fuse_bn=False"
        ) from None

