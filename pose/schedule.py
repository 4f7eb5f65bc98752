"""Optimiser and learning-rate schedule from a config: Adam (or SGD) with a step-wise (MultiStep) decay.

The paper's schedules: COCO and MPII 1e-3, x0.1 at epochs 170 and 200, 210 epochs; PoseTrack fine-tuning
1e-4, x0.1 at epochs 10 and 15, 20 epochs. The scheduler is stepped once at the end of every epoch, so epoch
``e`` (0-based) trains at ``lr * factor ** (number of steps <= e)``.
"""
from __future__ import annotations

from collections.abc import Iterable

import torch

from pose.config import ConfigError, TrainConfig


def build_optimizer(cfg: TrainConfig, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                               nesterov=cfg.nesterov)
    raise ConfigError(f"train.optimizer must be adam or sgd, got {cfg.optimizer!r}")


def build_scheduler(cfg: TrainConfig, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.MultiStepLR:
    if list(cfg.lr_steps) != sorted(cfg.lr_steps):
        raise ConfigError(f"train.lr_steps must be increasing, got {list(cfg.lr_steps)}")
    return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(cfg.lr_steps), gamma=cfg.lr_factor)


def epoch_learning_rates(cfg: TrainConfig) -> list[float]:
    """The learning rate of every epoch, from the same optimiser and scheduler that training builds."""
    optimizer = build_optimizer(cfg, [torch.nn.Parameter(torch.zeros(1))])
    scheduler = build_scheduler(cfg, optimizer)
    rates = []
    for _ in range(cfg.epochs):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()  # (a no-op step: the scheduler warns when it is stepped before the optimiser)
        scheduler.step()
    return rates
