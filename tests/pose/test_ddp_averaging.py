"""DDP averages the gradients of its ranks: one training step of two gloo ranks on different shards equals one
single-process step on the union batch.

The step is ``pose.train``'s own: ``init_runtime`` (process group from RANK / WORLD_SIZE, gloo on CPU), the model
wrapped in ``DistributedDataParallel`` as ``train`` does, and ``train_one_epoch`` with the project's loss and SGD.
The loss is a mean over the batch, so for shards of equal size the mean of the ranks' gradients is the gradient of
the union batch, and both ranks step from equal parameters to equal parameters.

The model has no BatchNorm: in training mode BatchNorm normalises each rank's shard with that shard's statistics
(DDP does not synchronise them, and ``SyncBatchNorm`` needs CUDA), so an HRNet's DDP step equals a union-batch step
only approximately. SGD without momentum makes the step proportional to the gradient, so summed (not averaged)
gradients, or a rank stepping on its own shard, would show.
"""
from __future__ import annotations

import os
import socket

import torch
import torch.multiprocessing as mp
from torch import nn

from pose.config import Config, TrainConfig
from pose.loss import JointsMSELoss
from pose.schedule import build_optimizer
from pose.train import train_one_epoch
from pose.train_utils import Runtime, init_runtime

BATCH, JOINTS = 8, 17                 # union batch; each of the 2 ranks gets 4
CONFIG = Config(train=TrainConfig(optimizer="sgd", lr=0.5, momentum=0.0, print_freq=1, batch_size=BATCH // 2))


def tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
                         nn.Conv2d(8, JOINTS, 3, stride=2, padding=1))


def union_batch() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return {"image": torch.randn(BATCH, 3, 64, 48, generator=generator),
            "target": torch.rand(BATCH, JOINTS, 16, 12, generator=generator),
            "target_weight": (torch.rand(BATCH, JOINTS, 1, generator=generator) > 0.2).float()}


def shard(batch: dict, rank: int, world: int) -> dict:
    size = BATCH // world
    return {key: value[rank * size:(rank + 1) * size] for key, value in batch.items()}


def one_step(model: nn.Module, loader: list[dict], rt: Runtime) -> dict[str, torch.Tensor]:
    optimizer = build_optimizer(CONFIG.train, model.parameters())
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    train_one_epoch(model, loader, JointsMSELoss(), optimizer, scaler, rt, CONFIG, epoch=0)
    plain = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
    return {key: value.detach().clone() for key, value in plain.state_dict().items()}


def _rank(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    rt = init_runtime("cpu")
    try:
        model = nn.parallel.DistributedDataParallel(tiny_model())
        torch.save(one_step(model, [shard(union_batch(), rank, world)], rt), f"{out}/rank{rank}.pth")
    finally:
        torch.distributed.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_gloo_ranks_step_as_one_process_on_the_union_batch(tmp_path):
    mp.spawn(_rank, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pth", weights_only=True) for r in range(2)]
    single = Runtime(0, 1, torch.device("cpu"))
    union = one_step(tiny_model(), [union_batch()], single)
    alone = one_step(tiny_model(), [shard(union_batch(), 0, 2)], single)   # rank 0's shard without the other
    start = tiny_model().state_dict()
    for key in start:
        assert torch.equal(ranks[0][key], ranks[1][key]), key               # the ranks agree exactly
        torch.testing.assert_close(ranks[0][key], union[key], rtol=1e-5, atol=1e-6)
    moved = sum(float((union[k] - start[k]).abs().sum()) for k in start)
    assert moved > 0.01                                                       # the step changed the weights ...
    shard_only = sum(float((alone[k] - union[k]).abs().sum()) for k in start)
    assert shard_only > 0.05 * moved                                          # ... and the other shard counted
    # summed instead of averaged gradients would have stepped twice as far
    doubled = {k: start[k] + 2 * (union[k] - start[k]) for k in start}
    assert sum(float((ranks[0][k] - doubled[k]).abs().sum()) for k in start) > 0.5 * moved
