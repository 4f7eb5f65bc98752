"""Which process of a sharded run this is, what it may use, and how rank 0 collects the others' results.

The launcher is an existing engine, not a scheduler of ours: ``torchrun`` sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``LOCAL_WORLD_SIZE`` (and ``MASTER_ADDR`` / ``MASTER_PORT``); Slurm's ``srun`` sets
``SLURM_PROCID``, ``SLURM_NTASKS``, ``SLURM_LOCALID`` and ``SLURM_TASKS_PER_NODE``. Without either, the run is one
process (rank 0 of 1).

- ``rank_info()``: a ``RankInfo`` from the environment.
- ``rank_device(device, info)``: ``cuda`` becomes ``cuda:LOCAL_RANK`` (one GPU per local rank); ``rank_threads``:
  the machine's cores divided by the local ranks, for CPU runs.
- ``Collector``: at the end, rank 0 receives one object (its summary part) from every rank: through a
  ``torch.distributed`` gloo process group where the launcher gives a rendezvous address (torchrun), otherwise
  through the per-rank summary files in the output folder (Slurm without a process group; needs the output
  folder on a file system all ranks see).
"""
from __future__ import annotations

import datetime
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# How long rank 0 waits at the final barrier for the slowest rank: a shard can take days on a big split.
BARRIER_TIMEOUT = datetime.timedelta(days=7)


class RankError(ValueError):
    """The launcher's rank variables do not describe a valid rank."""


@dataclass(frozen=True)
class RankInfo:
    """rank / world_size: this process among all; local_rank / local_world_size: among those on this machine;
    launcher: "single", "torchrun" or "slurm"; run_id: the same on every rank of one launch."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    launcher: str = "single"
    run_id: str = ""

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _int(environ: Mapping[str, str], key: str, default: int) -> int:
    value = environ.get(key, "")
    if not value.strip():
        return default
    try:
        return int(value)
    except ValueError:
        raise RankError(f"environment variable {key}={value!r} is not an integer; check the launcher") from None


def _slurm_tasks_on_node(environ: Mapping[str, str]) -> int:
    """This node's task count from ``SLURM_TASKS_PER_NODE`` (``2(x3),1`` = 2 on three nodes then 1)."""
    counts: list[int] = []
    for part in environ.get("SLURM_TASKS_PER_NODE", "").split(","):
        match = re.fullmatch(r"(\d+)(?:\(x(\d+)\))?", part.strip())
        if match:
            counts += [int(match.group(1))] * int(match.group(2) or 1)
    node = _int(environ, "SLURM_NODEID", 0)
    if node < len(counts):
        return counts[node]
    return _int(environ, "SLURM_NTASKS_PER_NODE", 1)


def rank_info(environ: Mapping[str, str] | None = None) -> RankInfo:
    """The rank of this process from torchrun's variables, else Slurm's, else a single process."""
    env = os.environ if environ is None else environ
    if "WORLD_SIZE" in env and "RANK" in env:
        info = RankInfo(_int(env, "RANK", 0), _int(env, "WORLD_SIZE", 1), _int(env, "LOCAL_RANK", 0),
                        _int(env, "LOCAL_WORLD_SIZE", 1), "torchrun",
                        env.get("TORCHELASTIC_RUN_ID", "") + f"@{env.get('MASTER_ADDR', '')}:"
                        f"{env.get('MASTER_PORT', '')}")
    elif "SLURM_PROCID" in env and "SLURM_NTASKS" in env:
        info = RankInfo(_int(env, "SLURM_PROCID", 0), _int(env, "SLURM_NTASKS", 1), _int(env, "SLURM_LOCALID", 0),
                        _slurm_tasks_on_node(env), "slurm",
                        f"slurm-{env.get('SLURM_JOB_ID', '')}.{env.get('SLURM_STEP_ID', '')}")
    else:
        return RankInfo()
    if not (info.world_size >= 1 and 0 <= info.rank < info.world_size and 0 <= info.local_rank):
        raise RankError(f"{info.launcher} gave rank {info.rank} of {info.world_size} (local rank "
                         f"{info.local_rank}); check the launcher's variables")
    return info


def rank_device(device: str, info: RankInfo, cuda_count: int | None = None) -> str:
    """``cuda`` -> ``cuda:LOCAL_RANK`` in a sharded run (modulo the GPUs this process sees, for launchers that give
    each task its own ``CUDA_VISIBLE_DEVICES``); anything else unchanged."""
    if device != "cuda" or info.world_size == 1:
        return device
    if cuda_count is None:
        import torch

        cuda_count = torch.cuda.device_count()
    return f"cuda:{info.local_rank % max(cuda_count, 1)}"


def rank_threads(info: RankInfo, cpus: int | None = None) -> int:
    """CPU threads for one rank: the cores this process may use, divided among the ranks of this machine."""
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cpus // max(info.local_world_size, 1))


class Collector:
    """Brings one object per rank to rank 0 at the end of a sharded run (a barrier as well).

    use_process_group: join a gloo ``torch.distributed`` group (needs ``MASTER_ADDR`` / ``MASTER_PORT``, which
    torchrun sets); otherwise ``read_part(rank)`` is polled until every rank's part is there (the summary files).
    """

    def __init__(self, info: RankInfo, read_part: Callable[[int], dict | None], poll_seconds: float = 2.0,
                 environ: Mapping[str, str] | None = None):
        env = os.environ if environ is None else environ
        self.info = info
        self.read_part = read_part
        self.poll_seconds = poll_seconds
        self.group = False
        if info.world_size > 1 and env.get("MASTER_ADDR") and env.get("MASTER_PORT"):
            import torch.distributed as dist

            if not dist.is_initialized():
                dist.init_process_group("gloo", rank=info.rank, world_size=info.world_size, timeout=BARRIER_TIMEOUT)
            self.group = True

    def gather(self, part: dict) -> list[dict] | None:
        """Every rank's ``part`` on rank 0 (in rank order), None on the other ranks."""
        if self.info.world_size == 1:
            return [part]
        if self.group:
            import torch.distributed as dist

            parts = [None] * self.info.world_size if self.info.is_main else None
            dist.gather_object(part, parts, dst=0)
            return parts
        if not self.info.is_main:
            return None
        parts: list[dict | None] = [None] * self.info.world_size
        parts[0] = part
        deadline = time.monotonic() + BARRIER_TIMEOUT.total_seconds()
        while any(p is None for p in parts) and time.monotonic() < deadline:
            for rank in range(1, self.info.world_size):
                if parts[rank] is None:
                    parts[rank] = self.read_part(rank)
            if any(p is None for p in parts):
                time.sleep(self.poll_seconds)
        return [p if p is not None else {"rank": r, "missing": True} for r, p in enumerate(parts)]

    def close(self) -> None:
        if self.group:
            import torch.distributed as dist

            dist.destroy_process_group()
            self.group = False
