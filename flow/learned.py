"""Learned optical flow: any ptlflow model (FlowNet2, FlowNetS, ...) and torchvision's RAFT, batched on a device.

Both give a callable ``(prev_rgb, next_rgb) -> (H, W, 2) float32`` plus ``.batch(pairs) -> (B, H, W, 2)``. Frames
are padded (edge replication) to a multiple of the model's stride and the flow is cropped back, so any frame size
works. ``ptlflow`` is imported here only inside :func:`make_ptlflow`, never when ``flow`` is imported.

Weights (``checkpoint``):

* ``None`` (the default): the backend's trained weights: ptlflow's ``things`` checkpoint (trained on FlyingChairs
  and FlyingThings3D, the FlowNet2 schedule) for ``flownet2``, ``flownets`` and the other ptlflow models, and
  torchvision's default weights for RAFT (``raft_small``: ``C_T_V2``, ``raft_large``: ``C_T_SKHT_V2``);
* ``"random"``: random initialisation, only when asked for (tests and timing; the flow is meaningless; logged as
  a warning);
* a path to a file: a ptlflow checkpoint (``{"state_dict": ...}``) or a plain ``state_dict`` saved with
  ``torch.save(model.state_dict(), path)``; for RAFT a torchvision state dict;
* a name: a ptlflow checkpoint name of that model (e.g. ``things``, ``sintel``) or a torchvision weights name for
  RAFT (``C_T_V2``, ``DEFAULT``, ...).

Named weights are fetched once into the weights cache of ``posetrack_common.weights_cache`` (the folder of the pose
weights: ``$POSETRACK_WEIGHTS_DIR`` or ``<torch hub dir>/checkpoints``) and checked against the sha256 digits in
their file names; offline (``POSETRACK_OFFLINE=1`` or no network) one error names the file, its URL and the folder
to put it in. The estimator's ``weights`` attribute says which weights it runs.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from flow.classical import check_pair
from flow.errors import FlowError
from posetrack_common import weights_cache

logger = logging.getLogger(__name__)

# checkpoint="random": untrained weights, only when asked for.
RANDOM = "random"
# The ptlflow checkpoint a ptlflow model runs by default: trained on FlyingChairs + FlyingThings3D, the training
# schedule of the FlowNet 2.0 paper (Ilg et al. 2017).
PTLFLOW_DEFAULT_CHECKPOINT = "things"

# torchvision RAFT works at 1/8 resolution (torchvision/models/optical_flow/raft.py checks H, W % 8 == 0).
RAFT_STRIDE = 8
# torchvision RAFT's correlation pyramid needs feature maps of at least 16 x 16, i.e. frames of 128 x 128.
RAFT_MIN_SIZE = 128
# Refinement iterations of torchvision's RAFT forward (its default, and the RAFT paper's evaluation setting).
RAFT_ITERATIONS = 12


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/"auto" -> cuda when available else cpu; a cuda device that is absent -> FlowError."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise FlowError(f"invalid device {device!r} ({exc}); use 'cpu', 'cuda' or 'cuda:N'") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise FlowError(f"device {str(device)!r} was asked for but no CUDA GPU is available; use device='cpu'")
    return device


def fetch_named(what: str, url: str) -> Path:
    """The local file of named flow weights: from the weights cache, or downloaded there once, sha256 checked
    against the digits in the file name; offline, a FlowError naming the file, the URL and the folder."""
    return weights_cache.fetch(what, os.path.basename(url), url, weights_cache.hash_in_file_name(url),
                               progress=False, error=FlowError)


def _warn_random(name: str) -> str:
    logger.warning("flow model %s runs with random weights (checkpoint='random'): its flow is meaningless", name)
    return "random (untrained)"


def _load_file(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a corrupt or non-torch file
        raise FlowError(f"cannot read checkpoint {path} ({type(exc).__name__}: {exc}); pass a torch checkpoint file")


def _load_state_dict(model: torch.nn.Module, state_dict: dict, source: str, model_name: str) -> None:
    try:
        model.load_state_dict(state_dict, strict=True)
    except (RuntimeError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise FlowError(
            f"checkpoint {source} does not fit flow model {model_name!r} ({first}); "
            "pass a checkpoint saved from that model"
        ) from None


def _missing_file_error(checkpoint) -> FlowError | None:
    """A FlowError when ``checkpoint`` looks like a file path (separator or extension) but no such file exists."""
    text = str(checkpoint)
    if os.sep in text or "/" in text or Path(text).suffix in (".pth", ".pt", ".ckpt", ".tar", ".bin"):
        if not Path(text).expanduser().is_file():
            return FlowError(f"checkpoint file {text} does not exist; pass the path of an existing checkpoint file")
    return None


class TorchFlow:
    """A flow network run in batches on a device; frames padded to ``stride`` (and to at least ``min_size``), flows
    cropped back.

    ``forward(images)`` takes (B, 2, 3, H, W) float RGB in [0, 1] with H, W multiples of ``stride`` and returns
    (B, 2, H, W) flow in pixels.
    """

    def __init__(self, name: str, model: torch.nn.Module, forward, stride: int, device: torch.device,
                 batch_size: int = 4, min_size: int = 0, weights: str = ""):
        if batch_size < 1:
            raise FlowError(f"batch_size must be at least 1, got {batch_size}")
        self.name = name
        self.weights = weights  # which weights it runs, for run headers: "ptlflow 'things' (file)", a path, random
        self.model = model.to(device).eval()
        self.autocast: torch.dtype | None = None   # a GPU's fp16/bf16 autocast for the forward (set by the tracker)
        self._forward = forward
        self.stride = stride
        self.min_size = min_size
        self.device = device
        self.batch_size = batch_size

    def __call__(self, prev_rgb: np.ndarray, next_rgb: np.ndarray) -> np.ndarray:
        return self.batch([(prev_rgb, next_rgb)])[0]

    def batch(self, pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """Flows of several same-size pairs, (B, H, W, 2) float32, ``batch_size`` pairs per forward pass."""
        pairs = list(pairs)
        if not pairs:
            return np.zeros((0, 0, 0, 2), np.float32)
        for prev_rgb, next_rgb in pairs:
            check_pair(prev_rgb, next_rgb)
            if prev_rgb.shape != pairs[0][0].shape:
                raise FlowError(f"all pairs of one batch must have the same size, got {prev_rgb.shape} and "
                                f"{pairs[0][0].shape}; call the estimator per pair instead")
        outputs = [self._run(pairs[i:i + self.batch_size]) for i in range(0, len(pairs), self.batch_size)]
        return np.concatenate(outputs)

    @torch.inference_mode()
    def _run(self, pairs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        images = torch.from_numpy(np.stack([np.stack(pair) for pair in pairs]))  # (B, 2, H, W, 3) uint8
        images = images.to(self.device).permute(0, 1, 4, 2, 3).float() / 255.0  # (B, 2, 3, H, W)
        height, width = images.shape[-2:]
        pad_h = max(height + (-height % self.stride), self.min_size) - height
        pad_w = max(width + (-width % self.stride), self.min_size) - width
        if pad_h or pad_w:
            # Pad (replicating the edge) half before, half after, as ptlflow's InputPadder does.
            padding = (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)
            batch = images.shape[0]
            images = F.pad(images.flatten(0, 1), padding, mode="replicate").unflatten(0, (batch, 2))
        with (torch.autocast(self.device.type, dtype=self.autocast) if self.autocast else contextlib.nullcontext()):
            flow = self._forward(images)  # (B, 2, H', W')
        flow = flow[..., pad_h // 2: pad_h // 2 + height, pad_w // 2: pad_w // 2 + width]
        return np.ascontiguousarray(flow.permute(0, 2, 3, 1).float().cpu().numpy())

    def __repr__(self) -> str:
        return (f"TorchFlow({self.name!r}, weights={self.weights!r}, device={str(self.device)!r}, "
                f"batch_size={self.batch_size})")


# ---------------------------------------------------------------------------------------------------------- ptlflow

def _import_ptlflow():
    # ptlflow's import prints notes about optional CUDA extensions ("alt_cuda_corr is not compiled", "xFormers not
    # available", timm deprecation warnings) that say nothing about this run: they are kept off the console.
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import ptlflow
    except ImportError as exc:
        raise FlowError(
            f"ptlflow flow models need the ptlflow package ({exc}); install it with "
            "`pip install --no-deps ptlflow==0.4.2` plus `pip install 'posetrack[flow]'`"
        ) from None
    return ptlflow


def ptlflow_model_names() -> list[str]:
    """The model names ptlflow offers (imports ptlflow)."""
    return list(_import_ptlflow().get_model_names())


def make_ptlflow(model_name: str, checkpoint: str | os.PathLike | None = None, device=None,
                 batch_size: int = 4) -> TorchFlow:
    """A ptlflow model by name (``flownet2``, ``flownets``, ``raft``, ...) with the weights of ``checkpoint`` (see
    the module docstring; default: its ``things`` checkpoint)."""
    ptlflow = _import_ptlflow()
    names = ptlflow.get_model_names()
    if model_name not in names:
        raise FlowError(f"ptlflow has no model {model_name!r}; choose one of: {', '.join(names)}")
    device = resolve_device(device)
    model_ref = ptlflow.get_model_reference(model_name)
    try:
        model = ptlflow.get_model(model_name)
    except Exception as exc:  # some ptlflow models fetch files while being built
        raise FlowError(f"ptlflow could not build model {model_name!r} ({type(exc).__name__}: {exc}); "
                        "choose another model or build it once where it can download what it needs") from None

    named = getattr(model_ref, "pretrained_checkpoints", {}) or {}
    if checkpoint is None:
        if PTLFLOW_DEFAULT_CHECKPOINT not in named:
            raise FlowError(f"ptlflow model {model_name!r} has no {PTLFLOW_DEFAULT_CHECKPOINT!r} checkpoint to run "
                            f"by default; pass a checkpoint name ({', '.join(named) or 'none'}), a file, or "
                            f"'{RANDOM}' for untrained weights")
        checkpoint = PTLFLOW_DEFAULT_CHECKPOINT
    if str(checkpoint) == RANDOM:
        weights = _warn_random(model_name)
    else:
        if (error := _missing_file_error(checkpoint)) is not None:
            raise error
        path = Path(checkpoint).expanduser()
        if str(checkpoint) in named and not path.is_file():
            path = fetch_named(f"flow weights {str(checkpoint)!r} of {model_name}", named[str(checkpoint)])
            weights = f"ptlflow {str(checkpoint)!r} ({path.name})"
        elif path.is_file():
            weights = str(path)
        else:
            choices = ", ".join(named) or "none"
            raise FlowError(f"checkpoint {str(checkpoint)!r} is neither a file nor a {model_name} checkpoint name "
                            f"(named checkpoints: {choices}); pass an existing path, one of the names or "
                            f"'{RANDOM}'")
        state = _load_file(path)
        state_dict = state["state_dict"] if isinstance(state, dict) and "state_dict" in state else state
        _load_state_dict(model, state_dict, str(checkpoint), model_name)

    def forward(images: torch.Tensor) -> torch.Tensor:
        # ptlflow models take BGR in [0, 1] (they read frames with cv2) as {"images": (B, 2, 3, H, W)}.
        return model({"images": images.flip(2)})["flows"][:, 0]

    return TorchFlow(f"ptlflow:{model_name}", model, forward, int(getattr(model, "output_stride", 64)), device,
                     batch_size, weights=weights)


# ------------------------------------------------------------------------------------------------ torchvision RAFT

def make_torchvision_raft(variant: str = "raft_small", checkpoint: str | os.PathLike | None = None, device=None,
                          batch_size: int = 4, iterations: int = RAFT_ITERATIONS) -> TorchFlow:
    """torchvision RAFT (``raft_small`` or ``raft_large``) with the weights of ``checkpoint`` (see the module
    docstring; default: torchvision's default weights of that variant)."""
    from torchvision.models import optical_flow

    builders = {"raft_small": (optical_flow.raft_small, optical_flow.Raft_Small_Weights),
                "raft_large": (optical_flow.raft_large, optical_flow.Raft_Large_Weights)}
    if variant not in builders:
        raise FlowError(f"unknown torchvision RAFT variant {variant!r}; choose one of {sorted(builders)}")
    build, weights_enum = builders[variant]
    device = resolve_device(device)
    model = build(weights=None, progress=False)

    weight_names = [w.name for w in weights_enum] + ["DEFAULT"]
    checkpoint = "DEFAULT" if checkpoint is None else checkpoint
    if str(checkpoint) == RANDOM:
        weights = _warn_random(variant)
    else:
        if (error := _missing_file_error(checkpoint)) is not None:
            raise error
        path = Path(checkpoint).expanduser()
        if str(checkpoint) in weight_names and not path.is_file():
            named = weights_enum.DEFAULT if str(checkpoint) == "DEFAULT" else weights_enum[str(checkpoint)]
            path = fetch_named(f"flow weights {named} of {variant}", named.url)
            weights = f"torchvision {named} ({path.name})"
        elif path.is_file():
            weights = str(path)
        else:
            raise FlowError(f"checkpoint {str(checkpoint)!r} is neither a file nor a torchvision {variant} weights "
                            f"name ({', '.join(weight_names)}); pass an existing path, one of the names or "
                            f"'{RANDOM}'")
        _load_state_dict(model, _load_file(path), str(checkpoint), variant)

    def forward(images: torch.Tensor) -> torch.Tensor:
        images = images * 2.0 - 1.0  # torchvision's OpticalFlow preset: [0, 1] -> [-1, 1]
        return model(images[:, 0].contiguous(), images[:, 1].contiguous(), num_flow_updates=iterations)[-1]

    return TorchFlow(variant, model, forward, RAFT_STRIDE, device, batch_size, min_size=RAFT_MIN_SIZE,
                     weights=weights)
