"""The heatmap loss: mean squared error weighted per joint (the official ``JointsMSELoss``)."""
from __future__ import annotations

import torch
from torch import nn


class JointsMSELoss(nn.Module):
    """``sum_j 0.5 * mean((pred_j * w_j - gt_j * w_j) ** 2) / J`` over a batch.

    pred, target: (B, K, H, W); target_weight: (B, K, 1) or (B, K). Each joint's MSE is a mean over the batch and
    the heatmap pixels; all joints have the same element count, so this equals ``0.5 * mean`` over everything.
    """

    def __init__(self, use_target_weight: bool = True):
        super().__init__()
        self.use_target_weight = use_target_weight

    def forward(self, pred: torch.Tensor, target: torch.Tensor, target_weight: torch.Tensor) -> torch.Tensor:
        b, k = pred.shape[:2]
        pred = pred.reshape(b, k, -1).float()
        target = target.reshape(b, k, -1).float()
        if self.use_target_weight:
            weight = target_weight.reshape(b, k, 1).float()
            pred = pred * weight
            target = target * weight
        return 0.5 * torch.mean((pred - target) ** 2)
