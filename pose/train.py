"""Train HRNet from one config, the way the paper and the official code do (Adam, step schedule, heatmap MSE).

    python -m pose.train --config coco_w32_256x192 [--set train.lr=5e-4 ...] [--resume] [--dry-run]
    torchrun --nproc_per_node 4 -m pose.train --config coco_w32_256x192      # DDP, one process per GPU

One loop for every dataset (``data.dataset``: coco, mpii, posetrack17, posetrack18, synthetic):

- data: the dataset's reader gives people (:class:`pose.data.dataset.PersonSample`); :class:`TopDownDataset`
  crops, augments (half-body, scale, rotation, flip) and makes Gaussian targets; a ``DistributedSampler`` seeded by
  ``(train.seed, epoch)`` orders every epoch (also with one process), and every sample's augmentation draws from
  ``(train.seed, epoch, index)``, so a resumed run sees exactly the data the uninterrupted one would have;
- model: HRNet from ``model``, official training init (convs N(0, 0.001), BN 1/0), then ``model.pretrained``
  (ImageNet backbone) and/or ``train.init_weights`` (a whole pose checkpoint, e.g. COCO for PoseTrack);
- optimisation: :class:`JointsMSELoss`, Adam (or SGD) and a MultiStep schedule stepped per epoch; AMP (fp16
  autocast + GradScaler) on CUDA when ``train.amp``; DDP over ``torchrun`` (nccl on GPU, gloo on CPU);
- every epoch: ``checkpoint.pth`` (model, optimiser, scheduler, scaler, RNG states, next epoch, best metric),
  validation (COCO-style OKS AP through pycocotools with the official rescoring and OKS-NMS; MPII PCKh when the
  ``gt_<set>.mat`` is there; heatmap accuracy always), ``model_best.pth`` by the validation metric, a row of
  ``log.csv`` and TensorBoard scalars in ``tensorboard/``; at the end ``final.pth`` (model weights only).

Output goes to ``<train.output_dir>/<config name>/``. ``--resume`` continues from its ``checkpoint.pth``.
On a CPU shared with other jobs, small models train much faster with ``OMP_NUM_THREADS=1``.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import yaml
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from pose.checkpoints import CheckpointError, load_backbone_weights, load_pose_weights
from pose.config import Config, ConfigError, load_config
from pose.data.dataset import DatasetError, PersonSample, TopDownDataset
from pose.data.posetrack import PoseTrackFormatError
from pose.decode import average_flip, decode_heatmaps
from pose.fileio import atomic_path, write_text_atomic
from pose.keypoints import KeypointLayout, get_layout
from pose.loss import JointsMSELoss
from pose.metrics import (
    MetricsError,
    MPIIGroundTruth,
    coco_keypoint_eval,
    coco_rescore_nms,
    coco_results,
    heatmap_accuracy,
    load_mpii_gt,
    mpii_pckh,
)
from pose.model import HRNet
from pose.precision import PrecisionError, training_precision
from pose.schedule import build_optimizer, build_scheduler, epoch_learning_rates

CHECKPOINT = "checkpoint.pth"
BEST = "model_best.pth"
FINAL = "final.pth"


class TrainError(RuntimeError):
    """A training run that cannot start or continue (e.g. --resume without a checkpoint)."""


# ---------------------------------------------------------------------------------------------------------------
# Processes and devices
# ---------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Runtime:
    rank: int
    world_size: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_runtime(device: str | None = None) -> Runtime:
    """One process of a ``torchrun`` group (``WORLD_SIZE`` > 1: nccl on CUDA, gloo on CPU) or a single process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if device is None else device.startswith("cuda")
    if use_cuda and not torch.cuda.is_available():
        raise TrainError(f"--device {device} was asked for but CUDA is not available; use --device cpu")
    if use_cuda:
        torch.cuda.set_device(local_rank)
        dev = torch.device("cuda", local_rank)
    else:
        dev = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        # Rank 0 validates alone while the others wait at a barrier: allow a full COCO validation (the default
        # timeout of 10-30 minutes is shorter than a W48 384x288 validation with flip test on one GPU).
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", timeout=timedelta(hours=3))
    return Runtime(rank, world_size, dev)


def barrier(rt: Runtime) -> None:
    if rt.distributed:
        dist.barrier()


# ---------------------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class Validation:
    """Validation people and how to score their predictions."""

    samples: list[PersonSample]
    kind: str                                 # "coco" (OKS AP) | "mpii" (PCKh) | "accuracy" (heatmap PCK only)
    coco_gt: object = None                    # pycocotools COCO for kind "coco"
    mpii_gt: MPIIGroundTruth | None = None    # for kind "mpii"
    gt_boxes: bool = True                     # heatmap accuracy means something only around ground-truth boxes


def _synthetic_paths(root: Path, image_set: str) -> tuple[Path, Path]:
    """Synthetic generator layout: ``ROOT/coco/<set>.json`` with file names relative to ROOT (or ROOT/images)."""
    ann = root / "coco" / f"{image_set}.json"
    return ann, root


def _image_dir_for(coco, root: Path) -> Path:
    """ROOT or ROOT/images, whichever holds the first image the annotation names."""
    if coco.imgs:
        first = next(iter(coco.imgs.values()))["file_name"]
        for candidate in (root, root / "images"):
            if (candidate / first).is_file():
                return candidate
    return root


def build_data(cfg: Config, layout: KeypointLayout) -> tuple[list[PersonSample], Validation]:
    """Training people and validation data of the config's dataset."""
    data, model = cfg.data, cfg.model
    root = Path(data.root)
    name = data.dataset
    if name in ("coco", "synthetic"):
        from pose.data.coco import (
            coco_detected_people,
            coco_gt_people,
            coco_paths,
            load_coco,
        )

        if name == "coco":
            train_ann, train_images = coco_paths(root, data.train_set)
            val_ann, val_images = coco_paths(root, data.val_set)
            train_coco = load_coco(train_ann)
            val_coco = load_coco(val_ann)
        else:
            train_ann, _ = _synthetic_paths(root, data.train_set)
            val_ann, _ = _synthetic_paths(root, data.val_set)
            train_coco = load_coco(train_ann)
            val_coco = train_coco if val_ann == train_ann else load_coco(val_ann)
            train_images, val_images = _image_dir_for(train_coco, root), _image_dir_for(val_coco, root)
        train = coco_gt_people(train_coco, train_images, model.image_size, model.num_joints, data.box_padding)
        if data.use_gt_bbox or not data.detection_file:
            val = coco_gt_people(val_coco, val_images, model.image_size, model.num_joints, data.box_padding)
            gt_boxes = True
        else:
            val = coco_detected_people(val_coco, data.detection_file, val_images, model.image_size,
                                       model.num_joints, cfg.test.image_thre, data.box_padding)
            gt_boxes = False
        return train, Validation(val, "coco", coco_gt=val_coco, gt_boxes=gt_boxes)
    if name == "mpii":
        from pose.data.mpii import mpii_paths, mpii_people

        train_ann, images, _ = mpii_paths(root, data.train_set)
        val_ann, _, gt_mat = mpii_paths(root, data.val_set)
        train = mpii_people(train_ann, images, data.box_padding)
        val = mpii_people(val_ann, images, data.box_padding)
        if gt_mat.is_file():
            return train, Validation(val, "mpii", mpii_gt=load_mpii_gt(gt_mat))
        return train, Validation(val, "accuracy")
    if name in ("posetrack17", "posetrack18"):
        from pose.data.posetrack_train import (
            posetrack_coco_gt,
            posetrack_people,
            read_posetrack_split,
        )

        extend = data.keypoint_box_extend
        train_seqs = read_posetrack_split(root, data.train_set)
        val_seqs = read_posetrack_split(root, data.val_set)
        train = posetrack_people(train_seqs, root, model.image_size, extend, data.box_padding)
        val = posetrack_people(val_seqs, root, model.image_size, extend, data.box_padding)
        return train, Validation(val, "coco", coco_gt=posetrack_coco_gt(val_seqs, extend))
    raise ConfigError(f"data.dataset must be coco, mpii, posetrack17, posetrack18 or synthetic, got {name!r}")


def check_layout(cfg: Config) -> KeypointLayout:
    try:
        layout = get_layout(cfg.model.keypoints)
    except ValueError as error:
        raise ConfigError(f"model.keypoints: {error}") from None
    if layout.num_joints != cfg.model.num_joints:
        raise ConfigError(f"model.num_joints is {cfg.model.num_joints} but layout {layout.name} has "
                          f"{layout.num_joints} joints; make them agree")
    return layout


# ---------------------------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------------------------

def init_training_weights(model: nn.Module) -> None:
    """Official ``PoseHighResolutionNet.init_weights``: convs N(0, 0.001) with zero bias, BN weight 1, bias 0."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, std=0.001)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)


def build_training_model(cfg: Config, log=print, load_weights: bool = True) -> HRNet:
    """HRNet with the official training init, then the ImageNet backbone and the initial pose weights (unless
    ``load_weights`` is false: a resumed run takes all weights from its checkpoint)."""
    model = HRNet(cfg.model)
    init_training_weights(model)
    if not load_weights:
        return model
    if cfg.model.pretrained:
        log(f"=> backbone {load_backbone_weights(model, cfg.model.pretrained).summary()}")
    elif not cfg.train.init_weights:
        log("=> warning: training from random initialisation; the paper starts from an ImageNet-pretrained "
            f"HRNet-W{cfg.model.width} backbone (set model.pretrained to its file, e.g. hrnet_w{cfg.model.width}-*.pth)")
    if cfg.train.init_weights:
        log(f"=> initial weights {load_pose_weights(model, cfg.train.init_weights, cfg.name).summary()}")
    return model


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


# ---------------------------------------------------------------------------------------------------------------
# Checkpoints and logs
# ---------------------------------------------------------------------------------------------------------------

def rng_states() -> dict:
    """Python, numpy, torch (and CUDA) generator states, in types that ``torch.load(weights_only=True)`` reads."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    states = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict) -> None:
    random.setstate(states["python"])
    n = states["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_atomic(obj, path: Path) -> None:
    """``torch.save`` to a temporary file in the same folder, then rename (no half-written checkpoints)."""
    with atomic_path(path) as temporary:
        torch.save(obj, temporary)


def load_checkpoint(path: Path) -> dict:
    if not path.is_file():
        raise TrainError(f"no checkpoint to resume at {path}; run without --resume to start training")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises pickle, zip and runtime errors for damaged files
        raise TrainError(f"{path} is not a readable training checkpoint ({type(error).__name__}); delete it and "
                         "run without --resume") from None


class CsvLog:
    """``log.csv``: one row per epoch; on resume, rows of epochs that will be run again are dropped."""

    def __init__(self, path: Path, start_epoch: int):
        self.path = path
        self.rows: list[dict] = []
        if start_epoch > 0 and path.is_file():
            with path.open(newline="") as f:
                self.rows = [r for r in csv.DictReader(f) if int(r["epoch"]) < start_epoch]

    def add(self, row: dict) -> None:
        self.rows.append({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
        fields = list(dict.fromkeys(k for r in self.rows for k in r))
        with atomic_path(self.path) as temporary, temporary.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(self.rows)


# ---------------------------------------------------------------------------------------------------------------
# One epoch of training, one validation
# ---------------------------------------------------------------------------------------------------------------

def train_one_epoch(model, loader, criterion, optimizer, scaler, rt: Runtime, cfg: Config, epoch: int,
                    autocast_dtype: torch.dtype | None = None) -> dict[str, float]:
    """One epoch; ``autocast_dtype`` (fp16 with the scaler on GPU, bf16) runs the forward under autocast."""
    model.train()
    if autocast_dtype is None and scaler.is_enabled():
        autocast_dtype = torch.float16
    loss_sum = acc_sum = 0.0
    samples = acc_count = 0
    steps = len(loader) if cfg.train.max_steps_per_epoch <= 0 else min(len(loader), cfg.train.max_steps_per_epoch)
    bar = tqdm(loader, total=steps, desc=f"epoch {epoch}", disable=not rt.main, leave=False, dynamic_ncols=True)
    for step, batch in enumerate(bar):
        if step >= steps:
            break
        images = batch["image"].to(rt.device, non_blocking=True)
        target = batch["target"].to(rt.device, non_blocking=True)
        weight = batch["target_weight"].to(rt.device, non_blocking=True)
        with (torch.autocast(rt.device.type, dtype=autocast_dtype) if autocast_dtype else contextlib.nullcontext()):
            output = model(images)
            loss = criterion(output, target, weight)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

        n = images.shape[0]
        loss_sum += loss.item() * n
        samples += n
        _, avg_acc, count = heatmap_accuracy(output.detach().float().cpu().numpy(), target.cpu().numpy())
        acc_sum += avg_acc * count
        acc_count += count
        if rt.main and (step % max(cfg.train.print_freq, 1) == 0 or step == steps - 1):
            bar.set_postfix(loss=f"{loss_sum / samples:.3e}", acc=f"{acc_sum / max(acc_count, 1):.3f}")
    totals = torch.tensor([loss_sum, samples, acc_sum, acc_count], dtype=torch.float64)
    if rt.distributed:
        dist.all_reduce(totals)
    return {"train_loss": float(totals[0] / max(totals[1], 1)), "train_acc": float(totals[2] / max(totals[3], 1)),
            "steps": steps}


@torch.no_grad()
def predict(model: nn.Module, loader: DataLoader, cfg: Config, layout: KeypointLayout, device: torch.device
            ) -> dict[str, np.ndarray]:
    """Flip-tested heatmaps decoded to image pixels for every validation person.

    Returns preds (N, K, 2), maxvals (N, K, 1), center (N, 2), scale (N, 2), score (N,), image_id (N,), and the
    heatmap accuracy against the targets (``acc``, ``acc_count``).
    """
    model.eval()
    out = {k: [] for k in ("preds", "maxvals", "center", "scale", "score", "image_id")}
    acc_sum, acc_count = 0.0, 0
    for batch in tqdm(loader, desc="validate", leave=False, dynamic_ncols=True):
        images = batch["image"].to(device)
        heatmaps = model(images).float()
        if cfg.test.flip_test:
            flipped = model(images.flip(3)).float()
            heatmaps = average_flip(heatmaps, flipped, layout.flip_pairs, shift=cfg.test.shift_heatmap)
        heatmaps = heatmaps.cpu().numpy()
        _, avg_acc, count = heatmap_accuracy(heatmaps, batch["target"].numpy())
        acc_sum += avg_acc * count
        acc_count += count
        center, scale = batch["center"].numpy(), batch["scale"].numpy()
        preds, maxvals = decode_heatmaps(heatmaps, center, scale, post_process=cfg.test.post_process)
        for key, value in (("preds", preds), ("maxvals", maxvals), ("center", center), ("scale", scale),
                           ("score", batch["score"].numpy()), ("image_id", batch["image_id"].numpy())):
            out[key].append(value)
    result = {k: np.concatenate(v) if v else np.zeros((0,)) for k, v in out.items()}
    result["acc"] = np.array(acc_sum / max(acc_count, 1))
    result["acc_count"] = np.array(acc_count)
    return result


def score_predictions(pred: dict[str, np.ndarray], val: Validation, cfg: Config, layout: KeypointLayout,
                      out_dir: Path) -> tuple[dict[str, float], str]:
    """Validation metrics and the name of the one that picks the best checkpoint."""
    metrics = {"val_acc": float(pred["acc"])} if val.gt_boxes else {}
    if val.kind == "coco":
        people = [{"image_id": int(i), "keypoints": np.concatenate([p, m], axis=1),
                   "area": float(np.prod(s * 200)), "score": float(sc)}
                  for p, m, s, sc, i in zip(pred["preds"], pred["maxvals"], pred["scale"], pred["score"],
                                            pred["image_id"])]
        kept = coco_rescore_nms(people, cfg.test.in_vis_thre, cfg.test.oks_thre, layout.sigmas, cfg.test.soft_nms)
        results = coco_results(kept)
        write_text_atomic(out_dir / "val_results.json", json.dumps(results))
        stats = coco_keypoint_eval(val.coco_gt, results, sigmas=layout.sigmas, verbose=False)
        metrics.update({f"val_{k.replace(' ', '').replace('(', '_').replace(')', '').replace('.', '')}": v
                        for k, v in stats.items()})
        return metrics, "val_AP"
    if val.kind == "mpii":
        np.savez(out_dir / "val_preds.npz", preds=pred["preds"])
        table = mpii_pckh(pred["preds"], val.mpii_gt)
        metrics.update({f"val_PCKh_{k}": v for k, v in table.items()})
        return metrics, "val_PCKh_Mean"
    return metrics, "val_acc"


def validate(model: nn.Module, val: Validation, cfg: Config, layout: KeypointLayout, rt: Runtime,
             out_dir: Path) -> tuple[dict[str, float], str]:
    dataset = TopDownDataset(val.samples, cfg.model, cfg.data, layout, train=False, seed=cfg.train.seed)
    loader = DataLoader(dataset, batch_size=cfg.test.batch_size, shuffle=False, num_workers=cfg.data.workers,
                        pin_memory=rt.device.type == "cuda")
    return score_predictions(predict(unwrap(model), loader, cfg, layout, rt.device), val, cfg, layout, out_dir)


# ---------------------------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------------------------

# Keys a resumed run may change: how long it runs and how it reports, not what it trains.
RESUME_MAY_CHANGE = {("train", "epochs"), ("train", "print_freq"), ("train", "val_every"), ("data", "workers"),
                     ("train", "output_dir"), ("test", "batch_size")}


def check_resumable(ckpt: dict, cfg: Config, path: Path) -> None:
    """Refuse to resume with a config that trains differently from the checkpoint's (the optimiser and schedule
    state in the checkpoint would silently override the new values)."""
    saved = ckpt.get("config")
    if not isinstance(saved, dict):
        return
    now = cfg.to_dict()
    changed = [f"{section}.{key}" for section, values in now.items() if isinstance(values, dict)
               for key, value in values.items()
               if (section, key) not in RESUME_MAY_CHANGE and section in saved
               and key in saved[section] and _plain(saved[section][key]) != _plain(value)]
    if changed:
        raise TrainError(f"{path} was trained with other values of {', '.join(changed)}; resume with the run's "
                         f"config.yaml (only {', '.join(sorted('.'.join(k) for k in RESUME_MAY_CHANGE))} may change)")


def _plain(value):
    return list(value) if isinstance(value, (tuple, list)) else value


def output_dir_of(cfg: Config) -> Path:
    return Path(cfg.train.output_dir) / (cfg.name or "run")


def train(cfg: Config, resume: bool = False, device: str | None = None) -> dict:
    """Train (or continue) a run; returns the last epoch's metrics plus ``best_metric``, ``best_epoch``, ``out_dir``."""
    rt = init_runtime(device)
    log = print if rt.main else (lambda *a, **k: None)
    layout = check_layout(cfg)
    out_dir = output_dir_of(cfg)
    ckpt = None
    if resume:
        ckpt = load_checkpoint(out_dir / CHECKPOINT)
        check_resumable(ckpt, cfg, out_dir / CHECKPOINT)
    elif rt.main:  # a resumed run keeps the config.yaml of its start
        out_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out_dir / "config.yaml", config_yaml(cfg))
    barrier(rt)

    random.seed(cfg.train.seed)
    np.random.seed(cfg.train.seed)
    torch.manual_seed(cfg.train.seed)

    train_samples, val = build_data(cfg, layout)
    if not train_samples:
        raise DatasetError(f"the training set of {cfg.data.dataset} under {cfg.data.root!r} has no usable people; "
                           "check data.root and data.train_set")
    if cfg.train.max_val_samples > 0:
        val.samples = val.samples[:cfg.train.max_val_samples]
        if val.kind == "mpii":
            val.kind = "accuracy"  # PCKh needs every person of the .mat
    log(f"=> {cfg.data.dataset}: {len(train_samples)} training people, {len(val.samples)} validation people; "
        f"{rt.world_size} process(es) on {rt.device}")

    model = build_training_model(cfg, log, load_weights=not resume).to(rt.device)
    criterion = JointsMSELoss(cfg.train.use_target_weight)
    optimizer = build_optimizer(cfg.train, model.parameters())
    scheduler = build_scheduler(cfg.train, optimizer)
    precision = training_precision(cfg.train.precision, str(rt.device), cfg.train.amp)
    log(f"=> training precision {precision.precision} ({precision.reason})")
    autocast_dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision.precision]
    scaler = torch.amp.GradScaler("cuda", enabled=precision.precision == "fp16")

    start_epoch, best_metric, best_epoch = 0, -math.inf, -1
    if ckpt is not None:
        try:
            model.load_state_dict(ckpt["model"])
        except RuntimeError:
            raise TrainError(f"{out_dir / CHECKPOINT} was written by a different model than the config builds; "
                             "resume with the config of that run (its config.yaml)") from None
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        scaler.load_state_dict(ckpt["scaler"])
        set_rng_states(ckpt["rng"])
        start_epoch, best_metric, best_epoch = ckpt["epoch"], ckpt["best_metric"], ckpt["best_epoch"]
        log(f"=> resumed from {out_dir / CHECKPOINT} at epoch {start_epoch}")
    if rt.distributed:
        model = nn.parallel.DistributedDataParallel(
            model, device_ids=[rt.device.index] if rt.device.type == "cuda" else None)

    train_set = TopDownDataset(train_samples, cfg.model, cfg.data, layout, train=True, seed=cfg.train.seed,
                               use_joints_weight=cfg.train.use_different_joints_weight)
    sampler = DistributedSampler(train_set, num_replicas=rt.world_size, rank=rt.rank, shuffle=True,
                                 seed=cfg.train.seed)
    loader = DataLoader(train_set, batch_size=cfg.train.batch_size, sampler=sampler, num_workers=cfg.data.workers,
                        pin_memory=rt.device.type == "cuda", drop_last=False)

    csv_log = writer = None
    if rt.main:
        from torch.utils.tensorboard import SummaryWriter

        csv_log = CsvLog(out_dir / "log.csv", start_epoch)
        writer = SummaryWriter(str(out_dir / "tensorboard"), purge_step=start_epoch)

    metrics: dict = {}
    for epoch in range(start_epoch, cfg.train.epochs):
        sampler.set_epoch(epoch)
        train_set.set_epoch(epoch)
        lr = optimizer.param_groups[0]["lr"]
        tic = time.time()
        metrics = {"epoch": epoch, "lr": lr, **train_one_epoch(model, loader, criterion, optimizer, scaler, rt, cfg,
                                                              epoch, autocast_dtype)}
        scheduler.step()
        metrics["time_s"] = time.time() - tic

        last = epoch == cfg.train.epochs - 1
        due = cfg.train.val_every > 0 and ((epoch + 1) % cfg.train.val_every == 0 or last)
        if rt.main:
            key = None
            if due and val.samples:
                val_metrics, key = validate(model, val, cfg, layout, rt, out_dir)
                metrics.update(val_metrics)
            is_best = key is not None and metrics[key] > best_metric
            if is_best:
                best_metric, best_epoch = metrics[key], epoch
                save_atomic({"model": unwrap(model).state_dict(), "epoch": epoch, "metric": key,
                             "value": best_metric}, out_dir / BEST)
            save_atomic({
                "model": unwrap(model).state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(), "rng": rng_states(),
                "epoch": epoch + 1, "sampler_epoch": epoch + 1, "best_metric": best_metric,
                "best_epoch": best_epoch, "config": cfg.to_dict(),
            }, out_dir / CHECKPOINT)
            csv_log.add(metrics)
            for name, value in metrics.items():
                if name != "epoch":
                    writer.add_scalar(name, value, epoch)
            writer.flush()
            shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if k != "epoch")
            log(f"epoch {epoch}: {shown}" + (" (best)" if is_best else ""))
        barrier(rt)

    if rt.main:
        save_atomic({"model": unwrap(model).state_dict()}, out_dir / FINAL)
        writer.close()
    barrier(rt)
    return {**metrics, "best_metric": best_metric, "best_epoch": best_epoch, "out_dir": str(out_dir)}


def config_yaml(cfg: Config) -> str:
    """The config as YAML that ``load_config`` reads back (lists inline)."""
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False, default_flow_style=None)


def dry_run(cfg: Config) -> str:
    """The resolved config (YAML) and the learning rate of every epoch."""
    check_layout(cfg)
    lines = ["# resolved config", config_yaml(cfg).rstrip(), "# learning rate per epoch"]
    lines += [f"epoch {e:4d}  lr {lr:.6g}" for e, lr in enumerate(epoch_learning_rates(cfg.train))]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pose.train", description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, help="config name in configs/pose/ or a YAML path")
    parser.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                        help="override config keys, e.g. train.lr=5e-4 data.root=/data/coco")
    parser.add_argument("--resume", action="store_true", help="continue from <output>/checkpoint.pth")
    parser.add_argument("--dry-run", action="store_true", help="print the resolved config and per-epoch lr, exit")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = load_config(args.config, args.set)
        if args.dry_run:
            print(dry_run(cfg))
            return 0
        train(cfg, resume=args.resume, device=args.device)
    except (ConfigError, DatasetError, CheckpointError, MetricsError, PoseTrackFormatError, TrainError,
            PrecisionError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
