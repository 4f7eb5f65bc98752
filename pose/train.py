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
- optimisation: :class:`JointsMSELoss`, Adam (or SGD) and a MultiStep schedule stepped per epoch; autocast by
  ``train.precision`` (auto: fp16 + GradScaler on CUDA when ``train.amp``, bf16 on a CPU with native bf16); DDP over ``torchrun`` (nccl on GPU, gloo on CPU);
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
import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from pose.checkpoints import CheckpointError, load_backbone_weights, load_pose_weights
from pose.config import Config, ConfigError, load_config
from pose.data.dataset import DatasetError, TopDownDataset
from pose.data.posetrack import PoseTrackFormatError
from pose.data.training_sets import Validation, build_data
from pose.decode import decode_heatmaps
from pose.fileio import write_text_atomic
from pose.inference import flip_test_heatmaps
from pose.keypoints import KeypointLayout, get_layout
from pose.loss import JointsMSELoss
from pose.metrics import (
    MetricsError,
    coco_keypoint_eval,
    coco_rescore_nms,
    coco_results,
    heatmap_accuracy,
    mpii_pckh,
)
from pose.model import HRNet, init_weights
from pose.precision import PrecisionError, training_precision
from pose.schedule import build_optimizer, build_scheduler, epoch_learning_rates
from pose.train_utils import (
    BEST,
    CHECKPOINT,
    FINAL,
    CsvLog,
    Runtime,
    TrainError,
    barrier,
    check_resumable,
    config_yaml,
    init_runtime,
    load_checkpoint,
    output_dir_of,
    rng_states,
    save_atomic,
    set_rng_states,
    unwrap,
)

__all__ = ["TrainError", "build_training_model", "check_layout", "dry_run", "main", "train"]


# ---------------------------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------------------------

def check_layout(cfg: Config) -> KeypointLayout:
    try:
        layout = get_layout(cfg.model.keypoints)
    except ValueError as error:
        raise ConfigError(f"model.keypoints: {error}") from None
    if layout.num_joints != cfg.model.num_joints:
        raise ConfigError(f"model.num_joints is {cfg.model.num_joints} but layout {layout.name} has "
                          f"{layout.num_joints} joints; make them agree")
    return layout


def build_training_model(cfg: Config, log=print, load_weights: bool = True) -> HRNet:
    """HRNet with the official training init, then the ImageNet backbone and the initial pose weights (unless
    ``load_weights`` is false: a resumed run takes all weights from its checkpoint)."""
    model = HRNet(cfg.model)
    init_weights(model)
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
        if cfg.test.flip_test:
            heatmaps = flip_test_heatmaps(model, images, layout.flip_pairs, cfg.test.shift_heatmap)
        else:
            heatmaps = model(images)
        heatmaps = heatmaps.float().cpu().numpy()
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

    train_samples, val = build_data(cfg)
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
