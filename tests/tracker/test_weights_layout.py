"""The keypoint layout of the weights sets flip pairs, joint count and the output mapping (``pose.weights_layout``).

1. Every registry entry, built the tracker's way (``build_pose_estimator``) from a key-seeded checkpoint in that
   entry's file format (MMPose 0.x keys for the MMPose files, our keys for the shipped file) in a tiny HRNet of the
   entry's own config (same joint count and ``model.keypoints``, small widths): the estimator flips with the pairs
   of the entry's layout, has its joint count, and the tracker's PoseTrack output takes every joint the layout
   shares with PoseTrack from the heatmap channel of that name.
2. A stand-in model whose mirrored output swaps the PoseTrack18 left/right channels (and keeps head_bottom and
   head_top, which COCO would swap as its eyes): flip-test keypoints equal the plain ones with the PoseTrack18
   weights' pairs, and are wrong with COCO's pairs (the config's ``model.keypoints``).
"""
from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest
import torch
import yaml

from pose import checkpoints as ckpt
from pose.config import ConfigError, load_config
from pose.inference import TopDownPoseEstimator
from pose.keypoints import COCO17, POSETRACK18, get_layout
from pose.model import HRNet
from pose.weights_layout import config_for_weights
from tests.pose.hrnet_keyseed import key_seeded_state_dict
from tracker import track
from tracker.config import load_track_config
from tracker.components import build_pose_estimator
from tracker.types import Boxes

REGISTRY = ckpt.load_registry()


def _tiny_yaml(entry, folder) -> str:
    """A YAML of the entry's config with tiny widths (joint count, keypoints and input size kept)."""
    config = load_config(entry.config)
    raw = config.to_dict()
    raw["name"] = f"tiny_{entry.name}"
    raw["model"].update(width=8, stem_channels=16, num_blocks=1, num_modules=[1, 1, 1], pretrained="")
    raw["model"]["image_size"], raw["model"]["heatmap_size"] = [48, 64], [12, 16]
    path = folder / f"tiny_{entry.name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


@pytest.fixture(scope="module")
def tiny_registry(tmp_path_factory):
    """Every registry entry re-pointed at a tiny copy of its config and a key-seeded file in its format."""
    folder = tmp_path_factory.mktemp("registry")
    entries = {}
    for entry in REGISTRY.values():
        config_path = _tiny_yaml(entry, folder)
        state = key_seeded_state_dict(HRNet(load_config(config_path).model).state_dict())
        if entry.url and "openmmlab" in entry.url:  # MMPose 0.x: backbone. + keypoint_head.final_layer.
            state = {(f"keypoint_head.{k}" if k.startswith("final_layer.") else f"backbone.{k}"): v
                     for k, v in state.items()}
            state = {"meta": {"epoch": 1}, "state_dict": state}
        file = entry.file or f"{entry.name}.pth"
        torch.save(state, folder / file)
        digest = hashlib.sha256((folder / file).read_bytes()).hexdigest()
        entries[entry.name] = {"config": config_path, "file": file, "url": f"file://{folder / file}",
                               "sha256": digest, "keypoints": entry.keypoints}
    registry = folder / "registry.yaml"
    registry.write_text(yaml.safe_dump(entries))
    return registry, folder


def test_every_registry_entry_flips_and_maps_with_its_layout(tiny_registry, monkeypatch):
    registry, folder = tiny_registry
    monkeypatch.setattr(ckpt, "REGISTRY_PATH", registry)
    monkeypatch.setenv("POSETRACK_WEIGHTS_DIR", str(folder))
    image = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    box = np.array([[30, 10, 90, 90]], np.float32)
    seen = set()
    for name, entry in REGISTRY.items():
        layout = get_layout(entry.keypoints)
        config = load_track_config("default", {"pose.weights": name, "device": "cpu"})
        estimator, layout_name = build_pose_estimator(config, "cpu")
        assert layout_name == layout.name, name
        assert tuple(map(tuple, estimator.flip_pairs)) == layout.flip_pairs, name
        assert estimator.num_joints == layout.num_joints == estimator.model(
            torch.zeros(1, 3, 64, 48)).shape[1], name
        raw, raw_scores = estimator(image, box)

        def detect(frame):
            return Boxes.detected(box, np.array([0.9]))

        tracked = next(iter(track([image], config, detector=detect, pose_estimator=estimator, layout=layout_name,
                                  flow_estimator=lambda a, b: np.zeros((*a.shape[:2], 2), np.float32))))
        out = tracked.poses
        shared = [j for j in POSETRACK18.joints if j in layout.joints]
        for joint in shared:  # the output joint of each name comes from the heatmap channel of that name
            np.testing.assert_array_equal(out.keypoints[0, POSETRACK18.index(joint)], raw[0, layout.index(joint)])
            assert out.scores[0, POSETRACK18.index(joint)] == raw_scores[0, layout.index(joint)]
        if layout.name == "posetrack18":
            assert len(shared) == 17  # head_bottom and head_top are the model's own channels 1 and 2
        seen.add(layout.name)
    assert seen == {"coco17", "mpii16", "posetrack18"}


def test_a_posetrack18_entry_on_a_coco_config_gets_posetrack18():
    entry = REGISTRY["hrnet_w48_posetrack18_384x288"]
    config = load_config(entry.config)
    assert config.model.keypoints == "coco17"  # the architecture config is COCO's
    resolved = config_for_weights(config, entry.name)
    assert resolved.model.keypoints == "posetrack18" and config.model.keypoints == "coco17"
    assert config_for_weights(config, "my_file.pth").model.keypoints == "coco17"
    assert config_for_weights(config, "my_file.pth", "posetrack18").model.keypoints == "posetrack18"
    with pytest.raises(ConfigError, match="layout 'mpii16' has 16 joints but config coco_w48_384x288 builds 17"):
        config_for_weights(config, "my_file.pth", "mpii16")


# ------------------------------------------------------------------------------- flip pairs that matter
HEATMAP = (12, 16)  # (width, height) of the stand-in's heatmaps; input crops 48 x 64
# heatmap (x, y) of each POSETRACK18 joint of an upright person: left and right joints at different x
PEAKS = np.array([[6, 3], [6, 5], [6, 1], [4, 2], [8, 2], [3, 6], [9, 6], [2, 8], [10, 8], [1, 10], [11, 10],
                  [4, 11], [8, 11], [4, 13], [8, 13], [5, 15], [7, 15]])


class MirrorAwareModel:
    """Heatmaps of a person whose joint k is at ``PEAKS[k]``. It sees whether a crop is mirrored (the original
    crops are bright on their left half) and then answers as a real model of PoseTrack18 joints does: the
    mirrored person's left joints are where the right ones were, mirrored; head_bottom and head_top stay."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        width, height = HEATMAP
        half = x.shape[3] // 2
        mirrored = x[..., :half].mean(dim=(1, 2, 3)) < x[..., half:].mean(dim=(1, 2, 3))
        out = torch.zeros(x.shape[0], len(PEAKS), height, width)
        swap = POSETRACK18.flip_permutation()
        for b in range(x.shape[0]):
            for k in range(len(PEAKS)):
                px, py = PEAKS[swap[k]] if mirrored[b] else PEAKS[k]
                out[b, k, py, width - 1 - px if mirrored[b] else px] = 1.0
        return out


def _estimate(config, flip_test: bool):
    config = dataclasses.replace(config, model=dataclasses.replace(
        config.model, image_size=(48, 64), heatmap_size=HEATMAP))
    estimator = TopDownPoseEstimator(MirrorAwareModel(), config, flip_test=flip_test, shift_heatmap=False)
    image = np.zeros((200, 200, 3), np.uint8)
    image[:, :100] = 200  # bright left half: the crop around the centre is bright on its left
    return estimator(image, np.array([[70, 40, 130, 160]], np.float32))


def test_flip_test_needs_the_weights_pairs():
    entry = REGISTRY["hrnet_w32_posetrack18_256x192"]
    config = load_config(entry.config)
    plain, plain_scores = _estimate(config_for_weights(config, entry.name), flip_test=False)
    flipped, scores = _estimate(config_for_weights(config, entry.name), flip_test=True)
    np.testing.assert_allclose(flipped, plain, atol=1e-4)      # posetrack18 pairs: both passes agree
    np.testing.assert_allclose(scores, 1.0)
    wrong, wrong_scores = _estimate(config, flip_test=True)   # the config's coco17 pairs swap channels 1 and 2
    assert COCO17.flip_pairs[0] == (1, 2) and (1, 2) not in POSETRACK18.flip_pairs
    head = [POSETRACK18.index("head_bottom"), POSETRACK18.index("head_top")]
    np.testing.assert_allclose(wrong_scores[0, head], 0.5)    # each is half its own peak, half the other's
    assert not np.allclose(wrong[0, head], plain[0, head], atol=1.0)
