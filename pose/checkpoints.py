"""HRNet checkpoints: reading, converting other layouts to ours, checking them, and the registry of named weights.

Layouts understood (all read with ``torch.load(..., weights_only=True)``):

* ``official``   -- the official ``pose_hrnet_*.pth``: our key names (``conv1.weight`` ... ``final_layer.bias``),
  possibly wrapped in ``{"state_dict": ...}`` / ``{"model": ...}`` and with DataParallel ``module.`` prefixes.
* ``mmpose-0.x`` -- MMPose 0.x top-down models: ``backbone.<our key>`` and ``keypoint_head.final_layer.*``.
* ``mmpose-1.x`` -- MMPose 1.x: ``backbone.<our key>`` and ``head.final_layer.*``.
* ``imagenet``   -- ImageNet classification HRNets (official HRNet-Image-Classification ``hrnet_w32-*.pth`` and
  timm's ``hrnet_w32``, which use the same names): the backbone part matches our keys; the classification
  extras (``incre_modules``, ``downsamp_modules``, ``final_layer`` conv-BN, ``classifier``, the multi-scale fuse
  layers of the last stage-4 unit) do not. Only for training initialisation, loaded non-strictly.

Every problem with a checkpoint raises one :class:`CheckpointError` whose message names the file and the problem.
"""
from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml
from torch import nn

from posetrack_common import weights_cache

logger = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
REGISTRY_PATH = PACKAGE_DIR / "weights_registry.yaml"

# Keys of the classification head of ImageNet HRNets (official cls_hrnet.py and timm's hrnet.py).
_IMAGENET_MARKERS = ("incre_modules.", "downsamp_modules.", "classifier.")
_MMPOSE_HEADS = {"keypoint_head.final_layer.": "mmpose-0.x", "head.final_layer.": "mmpose-1.x"}


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: missing, unreadable, another layout, or not fitting the config."""


@dataclass
class CheckpointReport:
    """What loading a checkpoint did. ``missing``: model keys not filled; ``unexpected``: file keys not used."""

    path: Path
    layout: str
    loaded: int
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{self.path.name}: {self.layout} layout, {self.loaded} tensors loaded"
        if self.missing:
            text += f", {len(self.missing)} model keys missing"
        if self.unexpected:
            text += f", {len(self.unexpected)} file keys unused"
        return "; ".join([text, *self.notes])


# --------------------------------------------------------------------------------------------- reading files


def _numpy_safe_globals() -> list:
    """Numpy array and scalar rebuilders, allowed for weights-only loading: MMPose 1.x checkpoints keep numpy
    arrays (e.g. OKS sigmas) in their ``meta``. These rebuild data only; they run no arbitrary code."""
    multiarray = getattr(np, "_core", None) or np.core
    dtype_classes = [type(np.dtype(t)) for t in ("f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "?")]
    return [multiarray.multiarray._reconstruct, multiarray.multiarray.scalar, np.ndarray, np.dtype, *dtype_classes]


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file, unwrapped from ``state_dict``/``model`` and without ``module.`` prefixes."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file {path} does not exist; check the path or download the weights")
    try:
        allow = getattr(torch.serialization, "safe_globals", None)  # torch >= 2.5
        with allow(_numpy_safe_globals()) if allow else contextlib.nullcontext():
            raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises pickle, zip and RuntimeError variants for non-checkpoints
        unsafe = re.search(r"Unsupported global: GLOBAL (\S+)", str(error))
        if unsafe:
            raise CheckpointError(
                f"{path.name} contains a Python object ({unsafe.group(1)}) that cannot be loaded safely; "
                "re-save only its state dict with torch.save(model.state_dict(), ...)"
            ) from None
        raise CheckpointError(
            f"{path.name} is not a PyTorch checkpoint ({type(error).__name__}); give a .pth file saved with torch.save"
        ) from None
    for wrapper in ("state_dict", "model"):
        if isinstance(raw, Mapping) and isinstance(raw.get(wrapper), Mapping):
            raw = raw[wrapper]
            break
    if not isinstance(raw, Mapping) or not raw:
        raise CheckpointError(f"{path.name} holds no state dict (found {type(raw).__name__}); give a model checkpoint")
    state = {}
    for key, value in raw.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{path.name} is not a model state dict: entry {key!r} is a {type(value).__name__}")
        state[key.removeprefix("module.")] = value
    return state


def detect_layout(state: Mapping[str, torch.Tensor]) -> str:
    """One of ``official``, ``mmpose-0.x``, ``mmpose-1.x``, ``imagenet`` (see the module docstring)."""
    keys = list(state)
    if any(k.startswith(prefix) for k in keys for prefix in _MMPOSE_HEADS):
        return next(layout for prefix, layout in _MMPOSE_HEADS.items() if any(k.startswith(prefix) for k in keys))
    if any(k.startswith(_IMAGENET_MARKERS) for k in keys) or any(k.startswith("backbone.") for k in keys):
        return "imagenet"  # a classification net, or a bare backbone (MMPretrain) without a heatmap head
    return "official"


def to_pose_keys(state: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], str, list[str]]:
    """Rename a checkpoint's keys to ours. Returns ``(state, layout, dropped keys)``."""
    layout = detect_layout(state)
    converted, dropped = {}, []
    for key, value in state.items():
        new = key
        if key.startswith("backbone."):
            new = key.removeprefix("backbone.")
        else:
            for prefix in _MMPOSE_HEADS:
                if key.startswith(prefix):
                    new = "final_layer." + key.removeprefix(prefix)
        if layout.startswith("mmpose") and new == key and not key.startswith("final_layer."):
            dropped.append(key)  # e.g. data_preprocessor buffers of MMPose 1.x
            continue
        converted[new] = value
    return converted, layout, dropped


# -------------------------------------------------------------------------------------- loading into a model


def _width(state: Mapping[str, torch.Tensor]) -> int | None:
    weight = state.get("transition1.0.0.weight")
    return int(weight.shape[0]) if weight is not None and weight.dim() == 4 else None


def load_pose_weights(model: nn.Module, path: str | Path, config_name: str = "") -> CheckpointReport:
    """Load an official or MMPose pose checkpoint into ``model`` with ``strict=True`` after converting its keys.

    Raises :class:`CheckpointError` for an ImageNet backbone, another width or joint count, or any key or shape
    that does not fit. ``num_batches_tracked`` buffers absent from old checkpoints are set to 0 (they do not
    change eval-mode outputs) and reported.
    """
    path = Path(path)
    config = f"config {config_name}" if config_name else "the model"
    state, layout, dropped = to_pose_keys(read_state_dict(path))
    if layout == "imagenet":
        raise CheckpointError(
            f"{path.name} is an ImageNet classification backbone, not a pose model; use it as model.pretrained "
            "for training, or give a pose checkpoint (official pose_hrnet_*.pth or MMPose)"
        )
    expected = model.state_dict()

    head = state.get("final_layer.weight")
    if head is not None and head.shape[0] != expected["final_layer.weight"].shape[0]:
        raise CheckpointError(
            f"{path.name} has {head.shape[0]} joints but {config} expects {expected['final_layer.weight'].shape[0]}"
        )
    file_width, model_width = _width(state), _width(expected)
    if file_width is not None and file_width != model_width:
        raise CheckpointError(
            f"{path.name} is an HRNet-W{file_width} checkpoint but {config} builds HRNet-W{model_width}; "
            f"use a W{file_width} config"
        )
    notes = [f"converted from {layout} keys"] if layout != "official" else []
    if dropped:
        notes.append(f"ignored {len(dropped)} non-model entries ({dropped[0]}, ...)")
    missing = [k for k in expected if k not in state]
    filled = [k for k in missing if k.endswith("num_batches_tracked")]
    for key in filled:
        state[key] = torch.zeros_like(expected[key])
    if filled:
        notes.append(f"set {len(filled)} absent num_batches_tracked buffers to 0")
    missing = [k for k in missing if k not in filled]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"lacks {len(missing)} of the model's tensors (first: {missing[0]})")
        if unexpected:
            parts.append(f"has {len(unexpected)} tensors the model does not (first: {unexpected[0]})")
        raise CheckpointError(f"{path.name} does not fit {config}: it {' and '.join(parts)}")
    wrong = [k for k in expected if state[k].shape != expected[k].shape]
    if wrong:
        k = wrong[0]
        raise CheckpointError(
            f"{path.name} does not fit {config}: {len(wrong)} tensors have other shapes, first {k} is "
            f"{tuple(state[k].shape)} in the file but {tuple(expected[k].shape)} in the model"
        )
    model.load_state_dict(state, strict=True)
    report = CheckpointReport(path, layout, len(state), notes=notes)
    logger.info("loaded %s", report.summary())
    return report


def load_backbone_weights(model: nn.Module, path: str | Path) -> CheckpointReport:
    """Initialise the backbone of ``model`` from an ImageNet HRNet (or any HRNet checkpoint) for training.

    Loads every tensor whose name and shape match ours except the heatmap head (``final_layer``), non-strictly,
    and reports the model keys left as initialised (``missing``) and the file keys not used (``unexpected``).
    Raises :class:`CheckpointError` when the widths differ or nothing matches.
    """
    path = Path(path)
    state, layout, _ = to_pose_keys(read_state_dict(path))
    expected = model.state_dict()
    file_width, model_width = _width(state), _width(expected)
    if file_width is not None and file_width != model_width:
        raise CheckpointError(
            f"{path.name} is an HRNet-W{file_width} backbone but the model is HRNet-W{model_width}; "
            f"use hrnet_w{model_width} ImageNet weights"
        )
    usable = {
        k: v for k, v in state.items()
        if k in expected and not k.startswith("final_layer.") and v.shape == expected[k].shape
    }
    if not usable:
        raise CheckpointError(f"{path.name} has no tensors that fit the HRNet backbone; is it an HRNet checkpoint?")
    result = model.load_state_dict(usable, strict=False)
    report = CheckpointReport(
        path, layout, len(usable), missing=list(result.missing_keys),
        unexpected=[k for k in state if k not in usable],
    )
    logger.info("initialised backbone from %s", report.summary())
    return report


# ------------------------------------------------------------------------------------------- named weights


@dataclass(frozen=True)
class WeightsEntry:
    """One named set of weights in ``weights_registry.yaml``."""

    name: str
    config: str                       # configs/pose/ name the weights fit
    file: str = ""                    # file name in weights_dir()
    url: str | None = None            # where to download it; None = must be put there by hand
    sha256: str | None = None         # full digest or its leading hex digits; None = unknown, not checked
    keypoints: str = "coco17"         # joint layout of the heatmaps
    package_file: str | None = None   # a file shipped inside the pose package (path relative to pose/)
    source: str = ""


def load_registry(path: str | Path | None = None) -> dict[str, WeightsEntry]:
    """The named weights in ``path`` (default: the package's ``weights_registry.yaml``)."""
    path = Path(path or REGISTRY_PATH)
    raw = yaml.safe_load(path.read_text()) or {}
    registry = {}
    for name, fields in raw.items():
        digest = fields.get("sha256")
        if digest is not None and not (isinstance(digest, str) and re.fullmatch(r"[0-9a-fA-F]{8,64}", digest)):
            raise CheckpointError(f"{path.name}: sha256 of {name!r} must be a quoted string of 8 to 64 hex digits")
        registry[name] = WeightsEntry(name=name, **fields)
    return registry


def get_weights_entry(name: str) -> WeightsEntry:
    registry = load_registry()
    if name not in registry:
        raise CheckpointError(f"unknown weights name {name!r}; give a checkpoint path or one of {', '.join(registry)}")
    return registry[name]


def weights_dir() -> Path:
    """Where named weights are cached (``posetrack_common.weights_cache``, shared with the flow checkpoints)."""
    return weights_cache.weights_dir()


def verify_sha256(path: Path, expected: str | None, name: str = "") -> None:
    """Raise :class:`CheckpointError` if the file's sha256 does not start with ``expected``; skip when None."""
    weights_cache.verify_sha256(path, expected, name, error=CheckpointError)


def fetch_weights(name: str, offline: bool | None = None, progress: bool = True) -> Path:
    """The local path of the named weights, downloading them into :func:`weights_dir` if needed and allowed.

    ``offline`` (default: ``$POSETRACK_OFFLINE=1``) forbids downloads. The sha256 is checked whenever known.
    """
    entry = get_weights_entry(name)
    if entry.package_file:
        path = PACKAGE_DIR / entry.package_file
        if not path.is_file():
            raise CheckpointError(
                f"weights {name!r} should ship with the package as {path}, which is missing; reinstall posetrack"
            )
        verify_sha256(path, entry.sha256)
        return path
    return weights_cache.fetch(f"weights {name!r}", entry.file, entry.url, entry.sha256, offline=offline,
                               progress=progress, error=CheckpointError)


def resolve_weights(weights: str | Path, offline: bool | None = None) -> Path:
    """A checkpoint path given a path or a registry name (see :func:`fetch_weights`)."""
    path = Path(weights)
    if path.is_file():
        return path
    if str(weights) in load_registry():
        return fetch_weights(str(weights), offline=offline)
    if path.suffix or len(path.parts) > 1:
        raise CheckpointError(f"checkpoint file {path} does not exist; check the path")
    return fetch_weights(str(weights), offline=offline)  # raises: unknown name, listing the known ones
