"""What a training run needs around its loop: the torchrun process group, RNG and checkpoint state (save, load,
resume checks), the CSV log and the run's folder."""
from __future__ import annotations

import csv
import os
import random
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import yaml
from torch import nn

from pose.config import Config
from pose.fileio import atomic_path


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


def config_yaml(cfg: Config) -> str:
    """The config as YAML that ``load_config`` reads back (lists inline)."""
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False, default_flow_style=None)
