"""OpenCV optical flow backends: DIS, Farneback and TV-L1, each a callable ``(prev_rgb, next_rgb) -> (H, W, 2)``.

All three run on grayscale versions of the RGB frames, on CPU. DIS (Kroeger et al. 2016) is the fast default;
TV-L1 needs ``opencv-contrib-python`` (``cv2.optflow``).
"""
from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from flow.errors import FlowError, check_options

DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}

# DIS options -> their OpenCV setters (cv2.DISOpticalFlow), applied after the preset.
_DIS_SETTERS = {
    "finest_scale": "setFinestScale",
    "patch_size": "setPatchSize",
    "patch_stride": "setPatchStride",
    "gradient_descent_iterations": "setGradientDescentIterations",
    "variational_refinement_iterations": "setVariationalRefinementIterations",
    "variational_refinement_alpha": "setVariationalRefinementAlpha",
    "variational_refinement_delta": "setVariationalRefinementDelta",
    "variational_refinement_gamma": "setVariationalRefinementGamma",
    "use_mean_normalization": "setUseMeanNormalization",
    "use_spatial_propagation": "setUseSpatialPropagation",
}

# Farneback defaults of OpenCV's own sample (samples/python/opt_flow.py).
FARNEBACK_DEFAULTS = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0)

# Keyword arguments of cv2.optflow.DualTVL1OpticalFlow_create (the parametrised createOptFlow_DualTVL1; OpenCV's
# defaults apply to those not given; `innnerIterations` is OpenCV's own spelling).
_TVL1_OPTIONS = (
    "tau", "lambda_", "theta", "nscales", "warps", "epsilon", "innnerIterations", "outerIterations",
    "scaleStep", "gamma", "medianFiltering", "useInitialFlow",
)


def check_pair(prev_rgb: np.ndarray, next_rgb: np.ndarray) -> None:
    """Raise FlowError unless both frames are (H, W, 3) uint8 of the same size."""
    for name, image in (("prev_rgb", prev_rgb), ("next_rgb", next_rgb)):
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            shape = getattr(image, "shape", None)
            dtype = getattr(image, "dtype", type(image).__name__)
            raise FlowError(f"{name} must be an (H, W, 3) uint8 RGB array, got shape {shape} dtype {dtype}")
    if prev_rgb.shape != next_rgb.shape:
        raise FlowError(f"the two frames differ in size: {prev_rgb.shape} vs {next_rgb.shape}; resize one of them")


def _gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


class OpenCVFlow:
    """A callable OpenCV flow estimator. ``compute(prev_gray, next_gray) -> (H, W, 2) float32``."""

    def __init__(self, name: str, compute):
        self.name = name
        self._compute = compute

    def __call__(self, prev_rgb: np.ndarray, next_rgb: np.ndarray) -> np.ndarray:
        check_pair(prev_rgb, next_rgb)
        flow = self._compute(_gray(prev_rgb), _gray(next_rgb))
        return np.ascontiguousarray(flow, dtype=np.float32)

    def batch(self, pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """Flows of several pairs, (B, H, W, 2) float32 (one after the other: OpenCV has no batching)."""
        return np.stack([self(prev_rgb, next_rgb) for prev_rgb, next_rgb in pairs])

    def __repr__(self) -> str:
        return f"OpenCVFlow({self.name!r})"


def make_dis(preset: str = "medium", **options) -> OpenCVFlow:
    """OpenCV DIS flow with a preset (``ultrafast``, ``fast``, ``medium``) and optional overrides (see _DIS_SETTERS)."""
    if preset not in DIS_PRESETS:
        raise FlowError(f"unknown DIS preset {preset!r}; choose one of {sorted(DIS_PRESETS)}")
    check_options("dis", options, _DIS_SETTERS, extra=("preset",))
    dis = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])
    for key, value in options.items():
        getattr(dis, _DIS_SETTERS[key])(value)
    return OpenCVFlow(f"dis/{preset}", lambda prev, nxt: dis.calc(prev, nxt, None))


def make_farneback(**options) -> OpenCVFlow:
    """OpenCV Farneback flow; options are calcOpticalFlowFarneback's (defaults: FARNEBACK_DEFAULTS)."""
    check_options("farneback", options, FARNEBACK_DEFAULTS)
    params = {**FARNEBACK_DEFAULTS, **options}
    return OpenCVFlow("farneback", lambda prev, nxt: cv2.calcOpticalFlowFarneback(prev, nxt, None, **params))


def make_tvl1(**options) -> OpenCVFlow:
    """OpenCV dual TV-L1 flow (cv2.optflow, opencv-contrib); options are DualTVL1OpticalFlow_create's keywords."""
    optflow = getattr(cv2, "optflow", None)
    if optflow is None or not hasattr(optflow, "createOptFlow_DualTVL1"):
        raise FlowError(
            "TV-L1 flow needs cv2.optflow from opencv-contrib-python; reinstall it "
            "(`pip uninstall -y opencv-python opencv-contrib-python && pip install 'opencv-contrib-python<5'`)"
        )
    check_options("tvl1", options, _TVL1_OPTIONS)
    tvl1 = optflow.DualTVL1OpticalFlow_create(**options) if options else optflow.createOptFlow_DualTVL1()
    return OpenCVFlow("tvl1", lambda prev, nxt: tvl1.calc(prev, nxt, None))
