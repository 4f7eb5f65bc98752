"""python -m pose.export: HRNet to ONNX with a dynamic batch; the ONNX model gives the PyTorch keypoints."""
from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch

from pose.config import load_config
from pose.export import main
from pose.inference import TopDownPoseEstimator
from pose.model import HRNet
from tests.pose.hrnet_keyseed import key_seeded_state_dict

pytest.importorskip("onnxscript", reason="the ONNX export needs onnxscript (the onnx extra)")
onnxruntime = pytest.importorskip("onnxruntime")

CONFIG = "coco_w32_256x192"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Key-seeded HRNet-W32 256x192 weights as an official-layout checkpoint, and their ONNX export."""
    folder = tmp_path_factory.mktemp("export")
    weights = folder / "pose_hrnet_w32_256x192.pth"
    torch.save(key_seeded_state_dict(HRNet(load_config(CONFIG).model).state_dict()), weights)
    out = folder / "hrnet.onnx"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["--config", CONFIG, "--weights", str(weights), "--out", str(out)]) == 0
    return weights, out, printed.getvalue()


def test_onnx_keypoints_equal_pytorch(exported):
    weights, onnx_path, printed = exported
    assert "ONNX Runtime vs PyTorch max heatmap difference" in printed
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    assert isinstance(session.get_inputs()[0].shape[0], str)            # the batch axis is free
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    boxes = np.array([[10.0, 20.0, 150.0, 290.0], [200.0, 40.0, 390.0, 200.0], [120.0, 100.0, 180.0, 180.0]])
    # flip test on (the config's), both flipped copies in one batch of 6 for ONNX Runtime
    torch_kp, torch_sc = TopDownPoseEstimator.from_config(CONFIG, weights)(image, boxes)
    onnx_estimator = TopDownPoseEstimator.from_config(CONFIG, onnx_path)
    assert onnx_estimator.runner.name.startswith("onnxruntime")
    onnx_kp, onnx_sc = onnx_estimator(image, boxes)
    difference = np.abs(onnx_kp - torch_kp).max()
    print(f"HRNet-W32 256x192 key-seeded, ONNX Runtime vs PyTorch: max keypoint difference {difference:.2e} px, "
          f"max score difference {np.abs(onnx_sc - torch_sc).max():.2e}")
    assert difference < 0.01
    np.testing.assert_allclose(onnx_sc, torch_sc, atol=1e-4)


def test_export_user_errors(tmp_path, capsys):
    out = tmp_path / "movenet.onnx"
    assert main(["--config", "movenet_thunder", "--weights", "random", "--out", str(out)]) == 2
    assert "only this project's HRNet configs export" in capsys.readouterr().err
    assert main(["--config", CONFIG, "--weights", "random", "--out", str(tmp_path / "x.pth")]) == 2
    assert "must end in .onnx" in capsys.readouterr().err
    assert main(["--config", CONFIG, "--weights", str(tmp_path / "none.pth"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob(".*"))          # nothing half-written left behind


def test_export_check_refuses_a_graph_that_does_not_reproduce_pytorch(exported):
    """The check after writing compares ONNX Runtime with PyTorch: the same file against other weights fails."""
    from pose.export import ExportError, _check_export

    _, onnx_path, _ = exported
    config = load_config(CONFIG)
    width, height = config.model.image_size
    other = HRNet(config.model).eval()                       # default init, not the key-seeded weights exported
    with pytest.raises(ExportError, match="does not reproduce PyTorch"):
        _check_export(other, onnx_path, height, width)
