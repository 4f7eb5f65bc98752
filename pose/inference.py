"""Top-down pose estimation for one frame: person boxes in, keypoints in image pixels out.

``TopDownPoseEstimator(model, config)(image_rgb, boxes_xyxy) -> (keypoints (N, K, 2), scores (N, K))``:

1. every box -> center/scale with the crop's aspect ratio and 1.25 padding (``pose.transforms``);
2. all crops of the frame cut with one affine each (bilinear) and stacked into one batch;
3. normalised on the device (RGB, ImageNet mean/std, as the official ``ToTensor`` + ``Normalize``);
4. one forward pass per chunk of at most ``max_batch`` images; with the flip test the mirrored crops ride in the
   same batch and their heatmaps are flipped back, shifted one pixel and averaged (official ``validate``);
5. heatmaps decoded (arg-max, quarter offset or DARK) and mapped back to image pixels (``pose.decode``).

Scores are the heatmap maxima per joint, as the official code's ``maxvals``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from pose.config import Config, load_config
from pose.decode import average_flip, decode_heatmaps
from pose.keypoints import get_layout
from pose.transforms import box_to_center_scale, crop_batch, get_affine_transform

# ImageNet statistics used by the official tools/train.py and tools/test.py (torchvision Normalize).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class TopDownPoseEstimator:
    """Runs a heatmap model on person crops of RGB frames.

    ``model``: maps ``(B, 3, h, w)`` normalised crops to ``(B, K, h/4, w/4)`` heatmaps (``pose.build_model``; any
    callable on tensors works too, e.g. an ONNX Runtime wrapper as in ``benchmarks/pose_speed.py``).
    ``config``: its ``pose.config.Config``: ``model.image_size``, ``model.keypoints`` (flip pairs),
    ``data.box_padding``, ``data.color_rgb`` and the ``test`` section (flip test, shift, quarter offset).
    Options: ``flip_test`` / ``shift_heatmap`` / ``post_process`` override the config; ``refine="dark"`` for
    DARK sub-pixel decoding; ``max_batch`` caps the network batch (flipped copies included; default 8 on
    CPU, 64 on GPU); ``channels_last``
    moves the model and inputs to NHWC memory; ``fuse_bn`` folds every BatchNorm into the convolution before it
    (:func:`fuse_conv_bn`); both are on by default, the fastest CPU path that ``benchmarks/pose_speed.py``
    measured; ``compile`` wraps the model in ``torch.compile``.
    """

    def __init__(
        self,
        model: nn.Module | Callable[[torch.Tensor], torch.Tensor],
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
        self.aspect_ratio = self.image_size[0] / self.image_size[1]
        self.box_padding = config.data.box_padding
        self.color_rgb = config.data.color_rgb
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
        self.channels_last = channels_last
        self._format = torch.channels_last if channels_last else torch.contiguous_format

        if isinstance(model, nn.Module):
            model = model.to(self.device).eval()
            if fuse_bn:
                model = fuse_conv_bn(model)
            if channels_last:
                model = model.to(memory_format=torch.channels_last)
        self.model = torch.compile(model) if compile else model
        self.mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1) * 255.0
        self.std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1) * 255.0

    @classmethod
    def from_config(
        cls, name: str | Path | Config, weights: str | Path | None = None, device: str = "cpu", **options
    ) -> "TopDownPoseEstimator":
        """An estimator for a config name/path (``coco_w32_256x192``) with the model from ``pose.build_model``."""
        from pose import build_model

        config = name if isinstance(name, Config) else load_config(name)
        return cls(build_model(config, weights=weights, device=device), config, device=device, **options)

    # -----------------------------------------------------------------------------------------------------------
    def crops(self, image_rgb: np.ndarray, boxes_xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(N, h, w, 3)`` uint8 crops and their ``center (N, 2)``, ``scale (N, 2)``."""
        center, scale = box_to_center_scale(boxes_xyxy, self.aspect_ratio, self.box_padding, box_format="xyxy")
        trans = get_affine_transform(center, scale, 0, self.image_size)
        return crop_batch(image_rgb, trans, self.image_size), center, scale

    def _to_input(self, crops: np.ndarray) -> torch.Tensor:
        """``(B, h, w, 3)`` uint8 -> normalised ``(B, 3, h, w)`` float32 on the device."""
        x = torch.from_numpy(crops).to(self.device, non_blocking=True)
        if not self.color_rgb:
            x = x.flip(3)  # a model trained on BGR input
        x = x.permute(0, 3, 1, 2).float()   # NHWC memory seen as NCHW: already channels_last
        x = (x - self.mean) / self.std
        return x.contiguous(memory_format=self._format)

    def heatmaps(self, crops: np.ndarray) -> torch.Tensor:
        """Heatmaps ``(N, K, h/4, w/4)`` (flip-averaged when the flip test is on) for ``(N, h, w, 3)`` crops."""
        per_pass = self.max_batch // 2 if self.flip_test else self.max_batch
        per_pass = max(per_pass, 1)
        outputs = []
        with torch.inference_mode():
            for start in range(0, len(crops), per_pass):
                x = self._to_input(crops[start:start + per_pass])
                if self.flip_test:
                    out = flip_test_heatmaps(self.model, x, self.flip_pairs, self.shift_heatmap, self._format)
                else:
                    out = self.model(x)
                outputs.append(out.float())
        return torch.cat(outputs, dim=0)

    def __call__(self, image_rgb: np.ndarray, boxes_xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints ``(N, K, 2)`` float32 image pixels (x, y) and scores ``(N, K)`` float32 for ``N`` boxes."""
        keypoints, scores, _ = self.estimate(image_rgb, boxes_xyxy)
        return keypoints, scores

    def estimate(self, image_rgb: np.ndarray, boxes_xyxy: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """As ``__call__``, plus the heatmaps ``(N, K, h, w)`` float32 the keypoints were decoded from."""
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
            return (np.zeros((0, self.num_joints, 2), np.float32), np.zeros((0, self.num_joints), np.float32),
                    np.zeros((0, self.num_joints, height, width), np.float32))
        if not np.all(np.isfinite(boxes)):
            raise ValueError("boxes_xyxy contains NaN or infinite values; pass finite [x1, y1, x2, y2] boxes")
        crops, center, scale = self.crops(image_rgb, boxes)
        heatmaps = self.heatmaps(crops).cpu().numpy()
        keypoints, maxvals = decode_heatmaps(heatmaps, center, scale, post_process=self.post_process,
                                             refine=self.refine)
        return keypoints.astype(np.float32), maxvals[..., 0].astype(np.float32), heatmaps.astype(np.float32)


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

