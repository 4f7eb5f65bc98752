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
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

# How long rank 0 waits at the final barrier for the slowest rank: a shard can take days on a big split.
BARRIER_TIMEOUT = datetime.timedelta(days=7)
# Without a process group each rank touches a heartbeat file this often, and rank 0 stops waiting for a rank whose
# heartbeat has not moved for STALE_HEARTBEATS beats (a rank killed by SIGKILL or lost with its machine).
HEARTBEAT_SECONDS = 30.0
STALE_HEARTBEATS = 10


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

    Where the launcher gives a rendezvous address (``MASTER_ADDR`` / ``MASTER_PORT``: torchrun) the ranks join a
    gloo ``torch.distributed`` group. Otherwise ``read_part(rank)`` is polled until every rank's part is there (the
    summary files), and each rank keeps touching ``heartbeat(rank)`` (a file beside them) from a background thread
    every ``heartbeat_seconds``: a rank whose heartbeat stops moving for ``STALE_HEARTBEATS`` beats is reported
    missing instead of being waited for (judged by rank 0's own clock, so the machines' clocks need not agree).
    """

    def __init__(self, info: RankInfo, read_part: Callable[[int], dict | None], poll_seconds: float = 2.0,
                 environ: Mapping[str, str] | None = None, heartbeat: Callable[[int], Path] | None = None,
                 heartbeat_seconds: float = HEARTBEAT_SECONDS):
        env = os.environ if environ is None else environ
        self.info = info
        self.read_part = read_part
        self.poll_seconds = poll_seconds
        self.heartbeat = heartbeat
        self.heartbeat_seconds = heartbeat_seconds
        self.group = False
        self._stop = threading.Event()
        self._beating: threading.Thread | None = None
        if info.world_size > 1 and env.get("MASTER_ADDR") and env.get("MASTER_PORT"):
            import torch.distributed as dist

            if not dist.is_initialized():
                dist.init_process_group("gloo", rank=info.rank, world_size=info.world_size, timeout=BARRIER_TIMEOUT)
            self.group = True
        elif info.world_size > 1 and heartbeat is not None:
            self._touch()
            self._beating = threading.Thread(target=self._beat, name="rank-heartbeat", daemon=True)
            self._beating.start()

    def _touch(self) -> None:
        path = self.heartbeat(self.info.rank)
        try:
            path.touch()  # creates it, or moves its modification time to now
        except OSError:
            pass  # a missed beat; the next one tries again

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_seconds):
            self._touch()

    def _heartbeat_mark(self, rank: int) -> float | None:
        try:
            return self.heartbeat(rank).stat().st_mtime if self.heartbeat is not None else None
        except OSError:
            return None

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
        start = time.monotonic()
        deadline = start + BARRIER_TIMEOUT.total_seconds()
        stale = STALE_HEARTBEATS * self.heartbeat_seconds
        last_beat = {rank: (self._heartbeat_mark(rank), start) for rank in range(1, self.info.world_size)}
        silent: set[int] = set()
        while any(p is None for r, p in enumerate(parts) if r not in silent) and time.monotonic() < deadline:
            for rank in range(1, self.info.world_size):
                if parts[rank] is not None or rank in silent:
                    continue
                parts[rank] = self.read_part(rank)
                if parts[rank] is None and self.heartbeat is not None:
                    mark, now = self._heartbeat_mark(rank), time.monotonic()
                    if mark != last_beat[rank][0]:
                        last_beat[rank] = (mark, now)
                    elif now - last_beat[rank][1] > stale:
                        silent.add(rank)
            if any(p is None for r, p in enumerate(parts) if r not in silent):
                time.sleep(self.poll_seconds)
        if silent:
            print(f"warning: rank(s) {', '.join(map(str, sorted(silent)))} stopped without finishing (no heartbeat "
                  f"for {stale:.0f} s: killed, or their machine was lost); their finished items are kept, run again "
                  f"with --resume to do the rest", file=sys.stderr)
        return [p if p is not None else {"rank": r, "missing": True} for r, p in enumerate(parts)]

    def close(self) -> None:
        self._stop.set()
        if self._beating is not None:
            self._beating.join()
            self._beating = None
            self.heartbeat(self.info.rank).unlink(missing_ok=True)   # done: a file left behind marks a lost rank
        if self.group:
            import torch.distributed as dist

            dist.destroy_process_group()
            self.group = False
