"""OpenCV flow backends through get_estimator: accuracy on known-motion pairs, interface, errors, lazy imports."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import flow
from flow import FlowError, get_estimator
from flow.synthetic import endpoint_error, standard_pairs, textured_image

PAIRS = standard_pairs(120, 160)


@pytest.fixture(scope="module")
def errors():
    """End-point error (px, over the measurable pixels) of each OpenCV backend on each known-motion pair."""
    backends = {f"dis/{preset}": get_estimator("dis", preset=preset) for preset in ("ultrafast", "fast", "medium")}
    backends["farneback"] = get_estimator("farneback")
    backends["tvl1"] = get_estimator("tvl1")
    table = {(name, pair.name): endpoint_error(estimate(pair.prev, pair.next), pair.flow, pair.valid)
             for name, estimate in backends.items() for pair in PAIRS}
    print("\n" + "\n".join(f"{name:15s} {pair:28s} EPE {epe:.3f} px" for (name, pair), epe in table.items()))
    return table


@pytest.mark.parametrize("pair", [p.name for p in PAIRS])
def test_dis_end_point_error_below_half_pixel(errors, pair):
    for preset in ("ultrafast", "fast", "medium"):
        assert errors[f"dis/{preset}", pair] < 0.5
    assert errors["dis/medium", pair] < 0.15  # the default preset is far better than the bound


@pytest.mark.parametrize("pair", [p.name for p in PAIRS])
def test_farneback_and_tvl1_recover_known_motion(errors, pair):
    assert errors["farneback", pair] < 0.3
    assert errors["tvl1", pair] < 0.3


def test_zero_motion_and_shape():
    image = textured_image(120, 160, seed=5)
    for name in ("dis", "farneback", "tvl1"):
        result = get_estimator(name)(image, image)
        assert result.shape == (120, 160, 2) and result.dtype == np.float32
        magnitude = np.linalg.norm(result, axis=-1)
        assert magnitude.mean() < 0.01 and magnitude.max() < 0.5, name


def test_batch_equals_single_calls():
    estimate = get_estimator("dis", preset="fast")
    pairs = [(p.prev, p.next) for p in PAIRS[:3]]
    batched = estimate.batch(pairs)
    assert batched.shape == (3, 120, 160, 2)
    for i, (prev, nxt) in enumerate(pairs):
        np.testing.assert_array_equal(batched[i], estimate(prev, nxt))


def test_dis_options_are_applied():
    pair = PAIRS[0]
    coarse = get_estimator("dis", preset="ultrafast", finest_scale=3)(pair.prev, pair.next)
    fine = get_estimator("dis", preset="ultrafast", finest_scale=0, variational_refinement_iterations=5)(
        pair.prev, pair.next)
    assert endpoint_error(fine, pair.flow, pair.valid) < endpoint_error(coarse, pair.flow, pair.valid)


def test_user_errors_are_clear():
    with pytest.raises(FlowError, match="unknown flow backend 'nosuchflow'.*dis, farneback, tvl1"):
        get_estimator("nosuchflow")
    with pytest.raises(FlowError, match="unknown DIS preset"):
        get_estimator("dis", preset="slow")
    with pytest.raises(FlowError, match=r"unknown option\(s\) \['bogus'\]"):
        get_estimator("farneback", bogus=1)
    image = textured_image(120, 160)
    with pytest.raises(FlowError, match="differ in size"):
        get_estimator("dis")(image, image[:100])
    with pytest.raises(FlowError, match="uint8 RGB"):
        get_estimator("dis")(image.astype(np.float32), image)


def test_opencv_backends_do_not_import_ptlflow_or_torch():
    code = (
        "import sys, numpy as np, flow\n"
        "image = np.random.default_rng(0).integers(0, 255, (64, 80, 3), dtype=np.uint8)\n"
        "assert flow.get_estimator('dis')(image, image).shape == (64, 80, 2)\n"
        "print('ptlflow' in sys.modules, 'torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_available_estimators_names_design_backends():
    names = flow.available_estimators()
    for required in ("dis", "farneback", "tvl1", "flownet2", "flownets", "raft_small", "raft_large"):
        assert required in names
