"""posetrack's pose package: HRNet, top-down inference, datasets, training and COCO/MPII evaluation."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported only when a model is built, so `import pose.keypoints` stays light
    from pose.config import Config
    from pose.model import HRNet

__all__ = ["build_model"]


def build_model(name: str | Path | Config, weights: str | Path | None = None, device="cpu") -> HRNet:
    """The HRNet for a pose config, with weights if given, in eval mode on ``device``.

    ``name``: a config name in ``configs/pose/`` (``coco_w32_256x192``), a YAML path, or a ``pose.config.Config``.
    ``weights``: a checkpoint path (official ``pose_hrnet_*.pth`` or MMPose) or a name in
    ``pose/weights_registry.yaml`` (downloaded to the weights folder unless ``POSETRACK_OFFLINE=1``).
    Raises ``pose.config.ConfigError`` for an unknown config and ``pose.checkpoints.CheckpointError`` for weights
    that are missing or do not fit.
    """
    from pose.checkpoints import load_pose_weights, resolve_weights
    from pose.config import Config, load_config
    from pose.model import HRNet

    config = name if isinstance(name, Config) else load_config(name)
    model = HRNet(config.model)
    if weights is not None and str(weights) != "":
        load_pose_weights(model, resolve_weights(weights), config_name=config.name or "given")
    return model.to(device).eval()
