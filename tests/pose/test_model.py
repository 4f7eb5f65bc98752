"""HRNet model: official state-dict layout, parameter and FLOP counts, and key-seeded output parity.

Reference numbers come from ../shared/reference/hrnet (the official code run unmodified).
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from tests.conftest import shared_path
from tests.pose.hrnet_keyseed import key_seeded_state_dict
from pose import build_model
from pose.config import load_config
from pose.model import HRNet, count_macs, count_parameters, init_weights

# our config name -> the reference json's name for it
CONFIGS = {
    "coco_w32_256x192": "w32_256x192_coco",
    "coco_w32_384x288": "w32_384x288_coco",
    "coco_w48_256x192": "w48_256x192_coco",
    "coco_w48_384x288": "w48_384x288_coco",
    "mpii_w32_256x256": "w32_256x256_mpii",
    "mpii_w48_256x256": "w48_256x256_mpii",
}


@pytest.fixture(scope="module")
def reference():
    path = shared_path("reference", "hrnet", "official_model_reference.json")
    return json.loads(path.read_text())["configs"]


@pytest.mark.parametrize("name", CONFIGS)
def test_state_dict_keys_order_and_shapes_equal_official(name, reference):
    expected = reference[CONFIGS[name]]
    model = HRNet(load_config(name).model)
    ours = [[key, list(t.shape), str(t.dtype).removeprefix("torch.")] for key, t in model.state_dict().items()]
    assert len(ours) == expected["n_state_dict_keys"] == 1754
    assert ours == expected["state_dict"]
    assert count_parameters(model) == expected["params_total"]
    # The official layout loads strictly: a state dict built from the reference shapes fits.
    fake = {key: torch.zeros(shape) for key, shape, _ in expected["state_dict"]}
    model.load_state_dict(fake, strict=True)


def test_macs_equal_official_counter(reference):
    # one config here (a forward pass each); benchmarks/flops.py prints all six
    expected = reference[CONFIGS["coco_w32_256x192"]]
    name = "coco_w32_256x192"
    model = HRNet(load_config(name).model)
    macs = count_macs(model, tuple(expected["input_shape_nchw"]))
    assert macs == expected["flops"]["conv_linear_macs"]
    assert macs / 2**30 == pytest.approx(expected["flops"]["official_get_model_summary"]["gflops_div_1024_3"], abs=1e-9)


def test_count_macs_by_hand():
    # conv 3->4, 3x3 on 8x8 (padding 1): 4*3*3*3 weights * 64 positions = 6912; linear 256->10: 10 * 256 = 2560.
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(256, 10))
    assert count_macs(net, (1, 3, 8, 8)) == 6912 + 2560


def test_output_shape_and_odd_input_size():
    model = build_model("coco_w32_256x192")
    assert not model.training
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 256, 192)).shape == (1, 17, 64, 48)
        # sizes not divisible by 32 still fuse: branches are upsampled to the exact size of the target branch
        assert model(torch.zeros(1, 3, 100, 76)).shape == (1, 17, 25, 19)


@pytest.mark.parametrize("name", ["coco_w32_256x192", "coco_w48_384x288", "mpii_w32_256x256"])
def test_key_seeded_parity_with_official(name, tmp_path):
    data = np.load(shared_path("reference", "hrnet", "keyseeded", f"{name}.npz"))
    seeded = key_seeded_state_dict(HRNet(load_config(name).model).state_dict())
    checkpoint = tmp_path / f"pose_hrnet_{name}.pth"
    torch.save(seeded, checkpoint)

    model = build_model(name, weights=checkpoint)
    with torch.no_grad():
        output = model(torch.from_numpy(data["input"])).numpy()
    expected = data["output"]
    assert output.shape == expected.shape
    error = np.abs(output - expected).max()
    print(f"{name}: max abs error {error:.3g} (output max magnitude {np.abs(expected).max():.3g})")
    assert error <= 1e-4 * np.abs(expected).max()


def test_training_init_matches_official_scheme():
    model = HRNet(load_config("coco_w32_256x192").model)
    init_weights(model)
    stds = [m.weight.std().item() for m in model.modules() if isinstance(m, nn.Conv2d) and m.weight.numel() > 10_000]
    assert np.allclose(stds, 0.001, rtol=0.05)
    assert torch.count_nonzero(model.final_layer.bias) == 0
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 292 and all(torch.all(m.weight == 1) and torch.all(m.bias == 0) for m in bns)
