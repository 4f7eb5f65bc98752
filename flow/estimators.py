"""``get_estimator(name, **options)``: one entry point for every optical-flow backend.

Every estimator is a callable ``(prev_rgb (H, W, 3) uint8, next_rgb) -> (H, W, 2) float32``, the displacement of each
pixel of ``prev_rgb`` in ``next_rgb``, and has ``.batch(pairs) -> (B, H, W, 2)`` (real batching on the device for
the learned ones).

* ``dis``: OpenCV DIS; ``preset`` (``ultrafast``, ``fast``, ``medium``; default ``medium``) and DIS setters
  (``finest_scale``, ``patch_size``, ``variational_refinement_iterations``, ...);
* ``farneback``: OpenCV Farneback; calcOpticalFlowFarneback's keywords (``levels``, ``winsize``, ...);
* ``tvl1``: OpenCV dual TV-L1 (contrib); DualTVL1OpticalFlow_create's keywords (``tau``, ``warps``, ...);
* ``raft_small``, ``raft_large``: torchvision RAFT; ``checkpoint``, ``device``, ``batch_size``, ``iterations``;
* ``flownet2``, ``flownets``, any other ptlflow model name, or ``ptlflow:<name>``: ptlflow; ``checkpoint``,
  ``device``, ``batch_size``.

The OpenCV backends accept and ignore ``device`` and ``batch_size`` (they run on the CPU, one pair at a time) and
take no ``checkpoint``. The learned ones run their trained weights unless ``checkpoint`` says otherwise
(``"random"`` for untrained weights; see ``flow.learned``).
``raft_small`` / ``raft_large`` mean torchvision's RAFT; ptlflow's own RAFT is ``ptlflow:raft_small`` or
``ptlflow:raft``. The learned backends import torch (and ptlflow) only when asked for.
"""
from __future__ import annotations

from flow import classical
from flow.errors import FlowError, check_options

OPENCV_BACKENDS = {"dis": classical.make_dis, "farneback": classical.make_farneback, "tvl1": classical.make_tvl1}
TORCHVISION_BACKENDS = ("raft_small", "raft_large")
# ptlflow models named in DESIGN.md; any other ptlflow model name works too.
PTLFLOW_DEFAULTS = ("flownet2", "flownets")
PTLFLOW_PREFIX = "ptlflow:"

_LEARNED_OPTIONS = ("checkpoint", "device", "batch_size")


def available_estimators() -> list[str]:
    """The built-in names; any ptlflow model is also available as ``ptlflow:<name>`` (without importing ptlflow)."""
    return [*OPENCV_BACKENDS, *TORCHVISION_BACKENDS, *PTLFLOW_DEFAULTS, PTLFLOW_PREFIX + "<model>"]


def get_estimator(name: str, **options):
    """The flow estimator called ``name`` (see the module docstring for names and options).

    Raises FlowError for an unknown name or option, a missing package, a checkpoint that cannot be had or does not
    fit, or an absent device.
    """
    if not isinstance(name, str) or not name:
        raise FlowError(f"a flow backend name must be a non-empty string, got {name!r}; "
                        f"one of {available_estimators()}")
    key = name.strip().lower()
    if key in OPENCV_BACKENDS:
        # OpenCV runs on the CPU one pair at a time; these two are accepted so one config fits every backend.
        options.pop("device", None)
        options.pop("batch_size", None)
        if options.pop("checkpoint", None) is not None:
            raise FlowError(f"flow backend {name!r} has no weights to load; a checkpoint (flow.checkpoint, "
                            "--flow-weights) applies to the learned backends only (flownet2, flownets, raft_small, "
                            "...)")
        return OPENCV_BACKENDS[key](**options)

    from flow import learned  # torch is imported only for the learned backends

    if key in TORCHVISION_BACKENDS:
        check_options(name, options, (*_LEARNED_OPTIONS, "iterations"))
        return learned.make_torchvision_raft(key, **options)
    model_name = key[len(PTLFLOW_PREFIX):] if key.startswith(PTLFLOW_PREFIX) else key
    check_options(name, options, _LEARNED_OPTIONS)
    if not key.startswith(PTLFLOW_PREFIX) and key not in PTLFLOW_DEFAULTS:
        try:
            known = learned.ptlflow_model_names()
        except FlowError:
            known = []
        if model_name not in known:
            raise FlowError(
                f"unknown flow backend {name!r}; choose one of {', '.join(available_estimators())} "
                f"(ptlflow models: {', '.join(known) if known else 'ptlflow is not installed'})"
            )
    return learned.make_ptlflow(model_name, **options)
