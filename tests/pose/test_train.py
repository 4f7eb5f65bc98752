"""pose.train end to end on tiny data: dry-run schedules, learning, exact resume, torchrun DDP, user errors."""
from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io
import torch

from pose.config import load_config
from pose.keypoints import COCO17
from pose.train import TrainError, main, train
from tests.conftest import REPO_ROOT, shared_path

# Stick-figure template: COCO-17 joints in a unit box (x right, y down), the person facing the camera.
TEMPLATE = np.array([
    [.50, .10], [.55, .07], [.45, .07], [.60, .10], [.40, .10], [.68, .26], [.32, .26], [.76, .42], [.24, .42],
    [.80, .58], [.20, .58], [.60, .56], [.40, .56], [.62, .76], [.38, .76], [.63, .95], [.37, .95],
])
# One colour per joint, the same for a left/right pair: which one is left is told by the side, so that the
# flip augmentation (which swaps the labels of mirrored people) stays consistent with the pixels.
_PAIR_OF = COCO17.flip_permutation()
_HUES = {j: int(180 * min(j, _PAIR_OF[j]) / 17) for j in range(17)}
PALETTE = {j: cv2.cvtColor(np.uint8([[[_HUES[j], 255, 255]]]), cv2.COLOR_HSV2RGB)[0, 0].tolist() for j in range(17)}

TINY_MODEL = ["model.image_size=[48,64]", "model.heatmap_size=[12,16]", "model.sigma=1.5", "model.width=8",
              "model.stem_channels=8", "model.num_blocks=1", "model.num_modules=[1,1,1]"]


def make_stick_dataset(root: Path, images: int = 64, seed: int = 0) -> Path:
    """Write ``root/coco/person_keypoints.json`` and ``root/images/000000_mpii_test/<i>.jpg``: one stick figure per
    80x64 image, jittered pose, size and position (the synthetic generator's layout)."""
    rng = np.random.default_rng(seed)
    (root / "images" / "000000_mpii_test").mkdir(parents=True, exist_ok=True)
    coco = {"images": [], "annotations": [],
            "categories": [{"id": 1, "name": "person", "keypoints": list(COCO17.joints),
                            "skeleton": [[a + 1, b + 1] for a, b in COCO17.skeleton]}]}
    for i in range(images):
        height = rng.uniform(48, 66)
        origin = np.array([rng.uniform(2, 64 - 0.8 * height), rng.uniform(2, 78 - height)])
        joints = origin + (TEMPLATE + rng.normal(0, 0.03, TEMPLATE.shape)) * [0.8 * height, height]
        image = np.full((80, 64, 3), rng.integers(20, 90), np.uint8)
        image = cv2.add(image, rng.integers(0, 25, image.shape, dtype=np.uint8))
        for a, b in COCO17.skeleton:
            cv2.line(image, tuple(np.round(joints[a]).astype(int)), tuple(np.round(joints[b]).astype(int)),
                     (170, 170, 170), 1, cv2.LINE_AA)
        for j, (x, y) in enumerate(joints):
            cv2.circle(image, (int(round(x)), int(round(y))), 2, PALETTE[j], -1, cv2.LINE_AA)
        name = f"images/000000_mpii_test/{i:06d}.jpg"
        cv2.imwrite(str(root / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        low, high = joints.min(0) - 2, joints.max(0) + 2
        coco["images"].append({"id": i + 1, "file_name": name, "width": 64, "height": 80})
        coco["annotations"].append({
            "id": i + 1, "image_id": i + 1, "category_id": 1, "iscrowd": 0, "num_keypoints": 17,
            "keypoints": np.concatenate([joints, np.full((17, 1), 2.0)], 1).reshape(-1).round(2).tolist(),
            "bbox": [*low.tolist(), *(high - low).tolist()], "area": float(np.prod(high - low)),
        })
    (root / "coco").mkdir(exist_ok=True)
    (root / "coco" / "person_keypoints.json").write_text(json.dumps(coco))
    return root


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One intra-op thread: tiny convolutions gain nothing from more, and on a busy machine OpenMP spinning
    makes them ~10x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def stick_root(tmp_path_factory) -> Path:
    return make_stick_dataset(tmp_path_factory.mktemp("sticks"))


def tiny_overrides(root: Path, out: Path, *extra: str) -> list[str]:
    return [f"data.root={root}", f"train.output_dir={out}", "train.batch_size=8", *TINY_MODEL, *extra]


def read_log(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def run_cli(capsys, *args: str) -> subprocess.CompletedProcess:
    """``python -m pose.train ARGS`` in this process (``main`` is what the module runs)."""
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out.out, out.err)


def _printed_rates(stdout: str) -> dict[int, float]:
    return {int(m[1]): float(m[2]) for m in re.finditer(r"^epoch\s+(\d+)\s+lr\s+(\S+)$", stdout, re.M)}


def test_dry_run_schedules(capsys):
    proc = run_cli(capsys, "--config", "posetrack17_w48_384x288", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "init_weights: weights/pose_hrnet_w48_384x288.pth" in proc.stdout   # the resolved config is printed
    rates = _printed_rates(proc.stdout)
    assert sorted(rates) == list(range(20))
    assert all(rates[e] == pytest.approx(1e-4) for e in range(10))
    assert all(rates[e] == pytest.approx(1e-5) for e in range(10, 15))
    assert all(rates[e] == pytest.approx(1e-6) for e in range(15, 20))

    proc = run_cli(capsys, "--config", "coco_w32_256x192", "--dry-run", "--set", "train.batch_size=8")
    assert proc.returncode == 0, proc.stderr
    assert "batch_size: 8" in proc.stdout
    rates = _printed_rates(proc.stdout)
    assert sorted(rates) == list(range(210))
    assert {e for e in rates if rates[e] == pytest.approx(1e-3)} == set(range(170))
    assert {e for e in rates if rates[e] == pytest.approx(1e-4)} == set(range(170, 200))
    assert {e for e in rates if rates[e] == pytest.approx(1e-5)} == set(range(200, 210))


def test_small_hrnet_learns(stick_root, tmp_path):
    # 40 epochs x 8 steps = 320 steps of batch 8 on 64 stick figures, validation (flip test, OKS AP) at the end.
    # fp32: the thresholds below were set on its curve (bf16 follows it: tests/pose/test_train_precision.py)
    cfg = load_config("synthetic_tiny", tiny_overrides(
        stick_root, tmp_path, "train.epochs=40", "train.lr_steps=[32]", "train.val_every=40",
        "train.precision=fp32"))
    result = train(cfg)
    log = read_log(Path(result["out_dir"]) / "log.csv")
    assert len(log) == 40
    first, last = log[0], log[-1]
    loss_drop = float(first["train_loss"]) / float(last["train_loss"])
    print(f"loss {float(first['train_loss']):.3e} -> {float(last['train_loss']):.3e} ({loss_drop:.1f}x); "
          f"train PCK {float(first['train_acc']):.3f} -> {float(last['train_acc']):.3f}; "
          f"val PCK {float(last['val_acc']):.3f}, val AP {float(last['val_AP']):.3f}")
    assert loss_drop >= 5
    assert float(last["train_acc"]) > float(first["train_acc"]) + 0.3
    assert float(last["val_acc"]) > 0.4
    out = Path(result["out_dir"])
    assert {"checkpoint.pth", "model_best.pth", "final.pth", "config.yaml", "val_results.json"} <= {
        p.name for p in out.iterdir()}
    assert any((out / "tensorboard").iterdir())
    best = torch.load(out / "model_best.pth", weights_only=True)
    assert best["metric"] == "val_AP" and best["value"] == pytest.approx(float(last["val_AP"]), abs=1e-5)


def test_resume_is_exact(stick_root, tmp_path):
    common = tiny_overrides(stick_root, tmp_path, "train.max_steps_per_epoch=3", "train.lr_steps=[2]",
                            "train.val_every=2", "data.prob_half_body=0.5")
    full = train(load_config("synthetic_tiny", common + ["train.output_dir=" + str(tmp_path / "full"),
                                                          "train.epochs=3"]))
    # The same run stopped after two epochs, then continued with --resume.
    part = ["train.output_dir=" + str(tmp_path / "part")]
    train(load_config("synthetic_tiny", common + part + ["train.epochs=2"]))
    ckpt = torch.load(tmp_path / "part" / "synthetic_tiny" / "checkpoint.pth", weights_only=True)
    assert ckpt["epoch"] == 2 and ckpt["scheduler"]["last_epoch"] == 2 and "rng" in ckpt and "scaler" in ckpt
    resumed = train(load_config("synthetic_tiny", common + part + ["train.epochs=3"]), resume=True)

    a = torch.load(Path(full["out_dir"]) / "final.pth", weights_only=True)["model"]
    b = torch.load(Path(resumed["out_dir"]) / "final.pth", weights_only=True)["model"]
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert full["train_loss"] == resumed["train_loss"] and full["best_epoch"] == resumed["best_epoch"]
    assert [r["epoch"] for r in read_log(Path(resumed["out_dir"]) / "log.csv")] == ["0", "1", "2"]
    config_yaml = (Path(resumed["out_dir"]) / "config.yaml").read_text()
    with pytest.raises(TrainError, match="other values of model.width"):
        train(load_config("synthetic_tiny", common + part + ["train.epochs=4", "model.width=16"]), resume=True)
    with pytest.raises(TrainError, match="other values of train.lr, train.lr_steps"):
        train(load_config("synthetic_tiny", common + part + ["train.epochs=4", "train.lr=0.5", "train.lr_steps=[3]"]),
              resume=True)
    assert (Path(resumed["out_dir"]) / "config.yaml").read_text() == config_yaml  # a refused resume changes nothing


def test_torchrun_two_processes_gloo(stick_root, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    args = ["--config", "synthetic_tiny", "--set",
            *tiny_overrides(stick_root, tmp_path, "train.epochs=1", "train.max_steps_per_epoch=2",
                            "train.max_val_samples=8")]
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "pose.train", *args],
                          capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 process(es) on cpu" in proc.stdout
    log = read_log(tmp_path / "synthetic_tiny" / "log.csv")
    assert len(log) == 1 and float(log[0]["train_loss"]) > 0
    ckpt = torch.load(tmp_path / "synthetic_tiny" / "checkpoint.pth", weights_only=True)
    assert ckpt["epoch"] == 1


def test_user_errors(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    out = f"train.output_dir={tmp_path}"
    proc = run_cli(capsys, "--config", "synthetic_tiny", "--set", f"data.root={missing}", out)
    assert proc.returncode == 2 and proc.stderr.startswith("error:") and "Traceback" not in proc.stderr
    assert str(missing / "coco" / "person_keypoints.json") in proc.stderr
    proc = run_cli(capsys, "--config", "coco_w32_256x192", "--set", f"data.root={missing}", out)
    assert proc.returncode == 2 and "person_keypoints_train2017.json" in proc.stderr
    proc = run_cli(capsys, "--config", "synthetic_tiny", "--resume", "--set", out)
    assert proc.returncode == 2 and "no checkpoint to resume" in proc.stderr
    proc = run_cli(capsys, "--config", "synthetic_tiny", "--dry-run", "--set", "train.lr_steps=[5,2]")
    assert proc.returncode == 2 and "lr_steps" in proc.stderr
    proc = run_cli(capsys, "--config", "synthetic_tiny", "--dry-run", "--set", "model.num_joints=16")
    assert proc.returncode == 2 and "num_joints" in proc.stderr


def test_cli_error_in_a_real_process(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pose.train", "--config", str(tmp_path / "none.yaml")],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert proc.returncode == 2 and proc.stderr.startswith("error: config") and "Traceback" not in proc.stderr


def _coco_layout(tmp_path: Path) -> list[str]:
    """The shared COCO sample in the official layout (annotations/, images/<set>/), validated on detections."""
    src = shared_path("data", "coco")
    (tmp_path / "annotations").mkdir()
    (tmp_path / "images").mkdir()
    for split in ("train2017", "val2017"):
        (tmp_path / "annotations" / f"person_keypoints_{split}.json").symlink_to(src / "test_coco.json")
        (tmp_path / "images" / split).symlink_to(src)
    return ["data.dataset=coco", "data.train_set=train2017", "data.val_set=val2017", "data.use_gt_bbox=false", f"data.detection_file={src / 'test_coco_det_AP_H_56.json'}"]


def _mpii_layout(tmp_path: Path) -> list[str]:
    """The shared MPII sample in the official layout, with a gt_valid.mat made from its own joints."""
    src = shared_path("data", "mpii")
    (tmp_path / "annot").mkdir()
    (tmp_path / "images").symlink_to(src)
    for split in ("train", "valid"):
        (tmp_path / "annot" / f"{split}.json").symlink_to(src / "test_mpii.json")
    recs = json.loads((src / "test_mpii.json").read_text())
    joints = np.array([r["joints"] for r in recs], float)                       # (N, 16, 2), 1-based
    head = joints[:, 9]
    scipy.io.savemat(tmp_path / "annot" / "gt_valid.mat", {
        "pos_gt_src": joints.transpose(1, 2, 0),
        "jnt_missing": 1 - np.array([r["joints_vis"] for r in recs]).T,
        "headboxes_src": np.stack([head - 30, head + 30]).transpose(0, 2, 1),  # (2 corners, x/y, N)
    })
    return ["data.dataset=mpii", "data.train_set=train", "data.val_set=valid", "model.num_joints=16", "model.keypoints=mpii16"]


def _posetrack_layout(tmp_path: Path) -> list[str]:
    src = shared_path("data", "posetrack18")
    (tmp_path / "annotations").mkdir()
    for split in ("train", "val"):
        (tmp_path / "annotations" / split).symlink_to(src / "annotations" / "val")
    (tmp_path / "images").symlink_to(src / "images")
    return ["data.dataset=posetrack18", "data.train_set=train", "data.val_set=val", "model.keypoints=posetrack18"]


@pytest.mark.parametrize("layout, metric", [(_coco_layout, "val_AP"), (_mpii_layout, "val_PCKh_Mean"),
                                            (_posetrack_layout, "val_AP")])
def test_every_dataset_trains_and_validates(tmp_path, layout, metric):
    root = tmp_path / "data"
    root.mkdir()
    extra = layout(root)
    cfg = load_config("synthetic_tiny", tiny_overrides(root, tmp_path / "out", *extra, "train.epochs=1",
                                                        "train.max_steps_per_epoch=1", "train.batch_size=4"))
    result = train(cfg)
    assert metric in result and np.isfinite(result[metric]) and result["best_epoch"] == 0
    if cfg.data.dataset == "mpii":
        preds = np.load(Path(result["out_dir"]) / "val_preds.npz")["preds"]
        assert preds.shape == (5, 16, 2)
