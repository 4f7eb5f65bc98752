"""The keypoint layout of a set of pose weights: the one answer that sets flip pairs, joint names and output mapping.

The architecture configs of ``configs/pose/`` serve several weights: the PoseTrack18 HRNets of the registry are
COCO-architecture nets (``coco_w48_384x288``, ``model.keypoints: coco17``) whose 17 heatmaps are in the PoseTrack18
order (``head_bottom``, ``head_top`` where COCO has the eyes). So the layout comes, in this order, from:

1. an explicit layout (the track config's ``pose.layout``), for checkpoint files whose layout no registry knows;
2. the registry entry of named weights (``keypoints`` in ``pose/weights_registry.yaml``);
3. the pose config's ``model.keypoints``.

:func:`config_for_weights` returns the pose config with ``model.keypoints`` set to that layout; the top-down
estimator (flip pairs), the tracker (joint names, OKS sigmas, mapping to PoseTrack's joints) and the writers all
read it from there.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from pose.checkpoints import load_registry
from pose.config import Config, ConfigError
from pose.keypoints import get_layout


def weights_layout(weights: str | Path | None, config: Config, layout: str = "") -> str:
    """The layout name of the heatmaps of ``weights`` run with ``config`` (see the module docstring)."""
    if layout:
        source = f"the given layout {layout!r}"
        name = layout
    else:
        entry = load_registry().get(str(weights)) if weights else None
        if entry is not None:
            source, name = f"weights {entry.name!r} (registry keypoints)", entry.keypoints
        else:
            source, name = f"config {config.name or 'given'} (model.keypoints)", config.model.keypoints
    try:
        return get_layout(name).name
    except ValueError as error:
        raise ConfigError(f"{source}: {error}") from None


def config_for_weights(config: Config, weights: str | Path | None, layout: str = "") -> Config:
    """A copy of ``config`` whose ``model.keypoints`` is the layout of ``weights``.

    Raises :class:`pose.config.ConfigError` when that layout's joint count differs from ``model.num_joints``.
    """
    name = weights_layout(weights, config, layout)
    joints = get_layout(name).num_joints
    if joints != config.model.num_joints:
        raise ConfigError(
            f"keypoint layout {name!r} has {joints} joints but config {config.name or 'given'} builds "
            f"{config.model.num_joints} heatmaps; give the layout of the weights (pose.layout) or a config that fits"
        )
    model = dataclasses.replace(config.model, keypoints=name)
    return dataclasses.replace(config, model=model)
