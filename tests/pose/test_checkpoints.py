"""Checkpoint reading and conversion (official, MMPose 0.x / 1.x, ImageNet backbones), errors, and named weights.

Fake checkpoints are built from our own (key-seeded) state dict by renaming keys the way each source names them:
* MMPose 0.x: ``{"meta": ..., "state_dict": {"backbone.<key>", "keypoint_head.final_layer.{weight,bias}"}}``
  (mmpose/models/detectors/top_down.py: ``backbone`` + ``keypoint_head``; TopdownHeatmapSimpleHead.final_layer).
* MMPose 1.x: ``backbone.`` + ``head.final_layer.`` and ``data_preprocessor`` buffers, numpy arrays in ``meta``
  (mmpose/models/pose_estimators/topdown.py; HeatmapHead.final_layer).
* ImageNet: the official HRNet-Image-Classification cls_hrnet.py names, which timm's ``hrnet_w32`` keeps
  (checked here against ``timm.create_model("hrnet_w32").state_dict()`` when timm is installed): our backbone
  keys plus ``incre_modules.*``, ``downsamp_modules.*``, ``final_layer.{0,1}.*`` (1x1 conv 1024->2048 + BN),
  ``classifier.{weight,bias}`` and the multi-scale fuse layers of the last stage-4 unit
  (``stage4.2.fuse_layers.{1,2,3}.*``); no heatmap ``final_layer.weight``/``bias``.
"""
from __future__ import annotations

import hashlib
import logging

import numpy as np
import pytest
import torch

from pose import build_model
from pose import checkpoints as ckpt
from pose.checkpoints import CheckpointError, load_backbone_weights, load_pose_weights
from pose.config import Config, ModelConfig, load_config, resolve_config_path
from pose.keypoints import get_layout
from pose.model import HRNet
from tests.pose.hrnet_keyseed import key_seeded_state_dict

# Checkpoint handling does not depend on the size of the net: a tiny HRNet keeps files small and tests fast.
CONFIG = "tiny_w8"


def tiny_config(width: int = 8, num_joints: int = 17, name: str = CONFIG) -> Config:
    model = ModelConfig(width=width, num_joints=num_joints, stem_channels=16, num_blocks=1, num_modules=(1, 1, 1))
    return Config(name=name, model=model)


def tiny_model(**kwargs) -> HRNet:
    return HRNet(tiny_config(**kwargs).model)


@pytest.fixture(scope="module")
def seeded():
    """Key-seeded tiny-HRNet weights and the reference output of a model holding them on a small input."""
    model = tiny_model()
    state = key_seeded_state_dict(model.state_dict())
    model.load_state_dict(state)
    images = torch.randn(1, 3, 64, 48, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        output = model.eval()(images)
    return state, images, output


def run(model, images):
    with torch.no_grad():
        return model(images)


def test_official_layout_with_wrapper_and_module_prefix(seeded, tmp_path):
    state, images, output = seeded
    path = tmp_path / "pose_hrnet_w32_256x192.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    model = tiny_model()
    report = load_pose_weights(model, path, CONFIG)
    assert report.layout == "official" and report.loaded == len(state)
    assert torch.equal(run(model.eval(), images), output)


def test_mmpose_0x_and_1x_checkpoints_give_identical_outputs(seeded, tmp_path):
    state, images, output = seeded

    def renamed(head_prefix):
        return {(k.replace("final_layer.", head_prefix) if k.startswith("final_layer.") else f"backbone.{k}"): v
                for k, v in state.items()}

    v0 = tmp_path / "hrnet_w32_coco_256x192_mmpose0.pth"
    torch.save({"meta": {"epoch": 210, "config": "model = dict(...)"},
                "state_dict": renamed("keypoint_head.final_layer.")}, v0)
    v1 = tmp_path / "td-hm_hrnet-w32_mmpose1.pth"
    v1_state = renamed("head.final_layer.") | {"data_preprocessor.mean": torch.tensor([123.675, 116.28, 103.53])}
    torch.save({"meta": {"dataset_meta": {"sigmas": np.full(17, 0.079, np.float32)}}, "state_dict": v1_state}, v1)

    outputs = []
    for path, layout in ((v0, "mmpose-0.x"), (v1, "mmpose-1.x")):
        model = tiny_model()
        report = load_pose_weights(model, path, CONFIG)
        assert report.layout == layout
        assert f"converted from {layout} keys" in report.summary()
        outputs.append(run(model.eval(), images))
    assert "ignored 1 non-model entries (data_preprocessor.mean" in report.summary()
    assert torch.equal(outputs[0], output) and torch.equal(outputs[1], output)
    # and through the public entry point
    assert torch.equal(run(build_model(tiny_config(), weights=v1), images), output)


def fake_imagenet_state(state: dict) -> dict:
    """Our backbone tensors under the ImageNet classification names, plus the classification extras."""
    fake = {k: v.clone() for k, v in state.items() if not k.startswith("final_layer.")}
    fake["incre_modules.0.0.conv1.weight"] = torch.randn(32, 32, 1, 1)
    fake["downsamp_modules.0.0.weight"] = torch.randn(256, 128, 3, 3)
    fake["final_layer.0.weight"] = torch.randn(2048, 1024, 1, 1)
    fake["final_layer.1.running_mean"] = torch.zeros(2048)
    fake["stage4.2.fuse_layers.1.0.0.0.weight"] = torch.randn(64, 32, 3, 3)
    fake["classifier.weight"] = torch.randn(1000, 2048)
    fake["classifier.bias"] = torch.zeros(1000)
    return fake


def test_imagenet_backbone_loads_with_missing_and_unexpected_reported(seeded, tmp_path):
    state, _, _ = seeded
    path = tmp_path / "hrnet_w32-36af842e.pth"
    torch.save(fake_imagenet_state(state), path)
    model = tiny_model()
    head_before = model.final_layer.weight.clone()
    report = load_backbone_weights(model, path)
    assert report.layout == "imagenet"
    assert report.loaded == len(state) - 2
    assert report.missing == ["final_layer.weight", "final_layer.bias"]
    assert sorted(report.unexpected) == sorted([
        "incre_modules.0.0.conv1.weight", "downsamp_modules.0.0.weight", "final_layer.0.weight",
        "final_layer.1.running_mean", "stage4.2.fuse_layers.1.0.0.0.weight", "classifier.weight", "classifier.bias",
    ])
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], state[k]) for k in state if not k.startswith("final_layer."))
    assert torch.equal(model.final_layer.weight, head_before)  # the head keeps its initialisation

    with pytest.raises(CheckpointError, match=r"hrnet_w32-36af842e\.pth is an ImageNet classification backbone"):
        load_pose_weights(tiny_model(), path, CONFIG)


def test_timm_hrnet_w32_layout_maps_onto_the_backbone(tmp_path):
    timm = pytest.importorskip("timm")
    timm_state = timm.create_model("hrnet_w32", pretrained=False).state_dict()
    path = tmp_path / "timm_hrnet_w32.pth"
    torch.save(timm_state, path)
    model = HRNet(load_config("coco_w32_256x192").model)
    report = load_backbone_weights(model, path)
    assert report.missing == ["final_layer.weight", "final_layer.bias"]
    assert report.loaded == 1754 - 2
    assert len(report.unexpected) == len(timm_state) - report.loaded
    assert {k.split(".")[0] for k in report.unexpected} == {
        "incre_modules", "downsamp_modules", "final_layer", "classifier", "stage4"}
    assert torch.equal(model.state_dict()["stage3.3.branches.2.1.conv2.weight"],
                       timm_state["stage3.3.branches.2.1.conv2.weight"])


def test_wrong_width_and_wrong_shape(seeded, tmp_path):
    w16 = tmp_path / "pose_hrnet_w16.pth"
    torch.save(tiny_model(width=16).state_dict(), w16)
    with pytest.raises(CheckpointError) as error:
        build_model(tiny_config(), weights=w16)
    assert str(error.value) == "pose_hrnet_w16.pth is an HRNet-W16 checkpoint but config tiny_w8 builds HRNet-W8; use a W16 config"

    state, _, _ = seeded
    bad = dict(state) | {"stage3.0.branches.1.0.conv1.weight": torch.zeros(16, 16, 1, 1)}
    path = tmp_path / "bad_shape.pth"
    torch.save(bad, path)
    with pytest.raises(CheckpointError) as error:
        build_model(tiny_config(), weights=path)
    assert str(error.value) == (
        "bad_shape.pth does not fit config tiny_w8: 1 tensors have other shapes, first "
        "stage3.0.branches.1.0.conv1.weight is (16, 16, 1, 1) in the file but (16, 16, 3, 3) in the model"
    )


def test_wrong_joint_count(tmp_path):
    path = tmp_path / "pose_hrnet_mpii.pth"
    torch.save(tiny_model(num_joints=16).state_dict(), path)
    with pytest.raises(CheckpointError) as error:
        build_model(tiny_config(), weights=path)
    assert str(error.value) == "pose_hrnet_mpii.pth has 16 joints but config tiny_w8 expects 17"


def test_missing_keys_and_absent_num_batches_tracked(seeded, tmp_path):
    state, images, output = seeded
    partial = {k: v for k, v in state.items() if k != "stage2.0.fuse_layers.0.1.0.weight"}
    path = tmp_path / "partial.pth"
    torch.save(partial, path)
    with pytest.raises(CheckpointError, match=r"^partial\.pth does not fit config tiny_w8: it lacks 1 "
                                              r"of the model's tensors \(first: stage2\.0\.fuse_layers\.0\.1\.0"):
        build_model(tiny_config(), weights=path)

    old = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "old_torch.pth"
    torch.save(old, path)
    model = tiny_model()
    report = load_pose_weights(model, path, CONFIG)
    num_bn = sum(k.endswith("num_batches_tracked") for k in state)
    assert f"set {num_bn} absent num_batches_tracked buffers to 0" in report.summary()
    assert torch.equal(run(model.eval(), images), output)


def test_garbage_missing_and_non_state_dict_files(tmp_path):
    garbage = tmp_path / "weights.pth"
    garbage.write_bytes(np.random.default_rng(0).bytes(1000))
    with pytest.raises(CheckpointError) as error:
        build_model(tiny_config(), weights=garbage)
    assert str(error.value).startswith("weights.pth is not a PyTorch checkpoint (")

    missing = tmp_path / "nowhere" / "pose_hrnet_w32_256x192.pth"
    with pytest.raises(CheckpointError) as error:
        build_model(tiny_config(), weights=missing)
    assert str(error.value) == f"checkpoint file {missing} does not exist; check the path"

    tensor_only = tmp_path / "tensor.pth"
    torch.save(torch.zeros(3), tensor_only)
    with pytest.raises(CheckpointError, match=r"^tensor\.pth holds no state dict \(found Tensor\)"):
        build_model(tiny_config(), weights=tensor_only)


# ------------------------------------------------------------------------------------------- named weights


def test_registry_entries_fit_their_configs():
    registry = ckpt.load_registry()
    for name in ("hrnet_w32_coco_256x192", "hrnet_w32_coco_384x288", "hrnet_w48_coco_256x192",
                 "hrnet_w48_coco_384x288", "hrnet_w48_posetrack18_384x288", "hrnet_w32_mpii_256x256"):
        assert name in registry
    for entry in registry.values():
        config = load_config(resolve_config_path(entry.config))
        assert get_layout(entry.keypoints).num_joints == config.model.num_joints
        if entry.package_file:
            continue
        assert entry.url.startswith("https://download.openmmlab.com/mmpose/top_down/hrnet/" + entry.file)
        assert entry.sha256 and entry.sha256 in entry.file  # MMPose names files with the sha256's first 8 digits
        # the registry name states the width and input size of the config it points at
        width, height = config.model.image_size
        assert f"w{config.model.width}_" in entry.name and entry.name.endswith(f"{height}x{width}")


def test_offline_registry_error_names_file_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("POSETRACK_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setenv("POSETRACK_OFFLINE", "1")
    entry = ckpt.get_weights_entry("hrnet_w48_posetrack18_384x288")
    with pytest.raises(CheckpointError) as error:
        build_model("coco_w48_384x288", weights="hrnet_w48_posetrack18_384x288")
    assert str(error.value) == (
        f"weights 'hrnet_w48_posetrack18_384x288' need the file {entry.file}, which is not in {tmp_path} and "
        f"downloads are off (offline mode); download it from {entry.url} and put it in {tmp_path} "
        "(or set POSETRACK_WEIGHTS_DIR to its folder)"
    )
    with pytest.raises(CheckpointError, match=r"^unknown weights name 'hrnet_w99'; give a checkpoint path or one of "
                                              r"hrnet_w32_coco_256x192, "):
        build_model(tiny_config(), weights="hrnet_w99")


def test_cached_file_with_wrong_sha256_is_rejected(tmp_path, monkeypatch):
    monkeypatch.setenv("POSETRACK_WEIGHTS_DIR", str(tmp_path))
    entry = ckpt.get_weights_entry("hrnet_w32_coco_256x192")
    (tmp_path / entry.file).write_bytes(b"not the MMPose file")
    with pytest.raises(CheckpointError, match=r"has sha256 [0-9a-f]{16}\.\.\. but c78dce93\.\.\. was expected; "
                                              r"the file is corrupt or another version"):
        build_model(tiny_config(), weights="hrnet_w32_coco_256x192")


@pytest.fixture
def own_registry(seeded, tmp_path, monkeypatch):
    """A registry with a package-shipped file, a downloadable (file:// URL) file and one without sha256."""
    state, _, _ = seeded
    package = tmp_path / "package"
    (package / "weights").mkdir(parents=True)
    shipped = package / "weights" / "hrnet_tiny.pth"
    torch.save(state, shipped)
    digest = hashlib.sha256(shipped.read_bytes()).hexdigest()
    server = tmp_path / "server"
    server.mkdir()
    torch.save(state, server / "remote.pth")
    (server / "unknown.pth").write_bytes(shipped.read_bytes())
    registry = tmp_path / "registry.yaml"
    registry.write_text(f"""
hrnet_shipped:
  config: {CONFIG}
  package_file: weights/hrnet_tiny.pth
  sha256: "{digest}"
hrnet_shipped_bad:
  config: {CONFIG}
  package_file: weights/hrnet_tiny.pth
  sha256: "{'0' * 64}"
hrnet_remote:
  config: {CONFIG}
  file: remote.pth
  url: {(server / 'remote.pth').as_uri()}
  sha256: "{hashlib.sha256((server / 'remote.pth').read_bytes()).hexdigest()[:8]}"
hrnet_remote_bad:
  config: {CONFIG}
  file: remote_bad.pth
  url: {(server / 'remote.pth').as_uri()}
  sha256: "deadbeef"
hrnet_nohash:
  config: {CONFIG}
  file: unknown.pth
  url: {(server / 'unknown.pth').as_uri()}
""")
    monkeypatch.setattr(ckpt, "REGISTRY_PATH", registry)
    monkeypatch.setattr(ckpt, "PACKAGE_DIR", package)
    monkeypatch.setenv("POSETRACK_WEIGHTS_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("POSETRACK_OFFLINE", raising=False)
    return tmp_path


def test_package_file_entry_with_sha256(own_registry, seeded):
    _, images, output = seeded
    assert ckpt.fetch_weights("hrnet_shipped", offline=True) == own_registry / "package" / "weights" / "hrnet_tiny.pth"
    assert torch.equal(run(build_model(tiny_config(), weights="hrnet_shipped"), images), output)
    with pytest.raises(CheckpointError, match="hrnet_tiny.pth has sha256 .* but 0000000000000000... was expected"):
        ckpt.fetch_weights("hrnet_shipped_bad")


def test_download_verifies_sha256_and_leaves_no_partial_file(own_registry, seeded, caplog):
    _, images, output = seeded
    cache = own_registry / "cache"
    with pytest.raises(CheckpointError, match=r"is not in .*cache and downloads are off"):
        ckpt.fetch_weights("hrnet_remote", offline=True)
    path = ckpt.fetch_weights("hrnet_remote", progress=False)
    assert path == cache / "remote.pth" and path.is_file()
    assert torch.equal(run(build_model(tiny_config(), weights="hrnet_remote"), images), output)

    with pytest.raises(CheckpointError, match=r"but deadbeef\.\.\. was expected"):
        ckpt.fetch_weights("hrnet_remote_bad", progress=False)
    assert sorted(p.name for p in cache.iterdir()) == ["remote.pth"]

    with caplog.at_level(logging.WARNING, logger="pose.checkpoints"):
        ckpt.fetch_weights("hrnet_nohash", progress=False)
    assert "no sha256 is known for unknown.pth; its integrity is not checked" in caplog.text
