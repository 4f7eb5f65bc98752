"""HRNet for top-down pose estimation (Sun et al., CVPR 2019).

The network keeps a high-resolution branch (input / 4) through the whole forward pass and adds lower-resolution
branches stage by stage; "exchange units" repeatedly fuse all branches into each other. A 1x1 convolution on the
highest-resolution branch gives one heatmap per joint.

    input (B, 3, H, W)
      stem: two 3x3 stride-2 convs                       -> (B, 64, H/4, W/4)
      layer1: 4 Bottleneck blocks                        -> (B, 256, H/4, W/4)
      transition1 -> stage2 (1 exchange unit, 2 branches)
      transition2 -> stage3 (4 exchange units, 3 branches)
      transition3 -> stage4 (3 exchange units, 4 branches; the last returns only the high-resolution branch)
      final_layer: 1x1 conv                              -> heatmaps (B, num_joints, H/4, W/4)

Branch ``i`` has ``width * 2**i`` channels at resolution ``input / 2**(i + 2)``. Module and parameter names are
chosen so that ``state_dict()`` has exactly the keys, order and shapes of the official checkpoints
(``pose_hrnet_w32_256x192.pth`` etc.), which therefore load with ``strict=True``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pose.config import ModelConfig

__all__ = ["BasicBlock", "Bottleneck", "ExchangeUnit", "HRNet", "count_macs", "count_parameters", "init_weights",
           "make_transition"]


def conv_bn(in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1, relu: bool = True):
    """Conv (no bias) + BatchNorm (+ ReLU) as a Sequential, so the parameters are named ``0.*`` and ``1.*``."""
    layers = [
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """Residual unit of the branches: two 3x3 convs, identity shortcut (input and output have ``channels``)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + x)


class Bottleneck(nn.Module):
    """ResNet bottleneck (1x1 -> 3x3 -> 1x1, ``planes * 4`` output channels) used in layer1."""

    expansion = 4

    def __init__(self, in_channels: int, planes: int):
        super().__init__()
        out_channels = planes * self.expansion
        self.conv1 = nn.Conv2d(in_channels, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        # A 1x1 projection on the shortcut when the channel count changes (only the first block of layer1).
        self.downsample = conv_bn(in_channels, out_channels, 1, relu=False) if in_channels != out_channels else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + shortcut)


def fuse_path(channels: list[int], source: int, target: int) -> nn.Module:
    """The layers that bring branch ``source`` to the resolution and width of branch ``target``.

    Lower resolution -> higher: 1x1 conv + BN (nearest upsampling happens in ``ExchangeUnit.forward``).
    Higher resolution -> lower: ``target - source`` stride-2 3x3 convs, each with BN, ReLU after all but the last;
    the intermediate ones keep the source width.
    """
    if source == target:
        return nn.Identity()
    if source > target:
        return conv_bn(channels[source], channels[target], kernel_size=1, relu=False)
    steps = []
    for step in range(target - source):
        last = step == target - source - 1
        out_channels = channels[target] if last else channels[source]
        steps.append(conv_bn(channels[source], out_channels, 3, stride=2, relu=not last))
    return nn.Sequential(*steps)


class ExchangeUnit(nn.Module):
    """One multi-resolution module: ``num_blocks`` BasicBlocks per branch, then every branch receives the sum of all.

    Takes and returns a list of tensors, one per branch, branch ``i`` of shape ``(B, channels[i], H_i, W_i)``.
    With ``multi_scale_output=False`` only the highest-resolution output is computed (the last unit of the net).
    """

    def __init__(self, channels: list[int], num_blocks: int, multi_scale_output: bool = True):
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(*[BasicBlock(c) for _ in range(num_blocks)]) for c in channels
        )
        num_outputs = len(channels) if multi_scale_output else 1
        self.fuse_layers = nn.ModuleList(
            nn.ModuleList(fuse_path(channels, source, target) for source in range(len(channels)))
            for target in range(num_outputs)
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        outputs = []
        for target, paths in enumerate(self.fuse_layers):
            size = xs[target].shape[-2:]
            total = xs[target]
            for source, path in enumerate(paths):
                if source == target:
                    continue
                y = path(xs[source])
                if source > target:
                    y = F.interpolate(y, size=size, mode="nearest")
                total = total + y
            outputs.append(self.relu(total))
        return outputs


def make_transition(in_channels: list[int], out_channels: list[int]) -> nn.ModuleList:
    """The layers between two stages, one per output branch; ``layer[i]`` is applied to input branch ``min(i, last)``.

    Existing branch ``i``: 3x3 conv + BN + ReLU if its width changes, else passed through. The new branch is a
    3x3 stride-2 conv + BN + ReLU applied to the lowest-resolution previous branch.
    """
    layers = []
    for i, out_c in enumerate(out_channels):
        if i < len(in_channels):
            layers.append(conv_bn(in_channels[i], out_c) if in_channels[i] != out_c else nn.Identity())
        else:  # the new branch; wrapped once more so its names are transitionN.i.0.{0,1} as in the official net
            layers.append(nn.Sequential(conv_bn(in_channels[-1], out_c, stride=2)))
    return nn.ModuleList(layers)


class HRNet(nn.Module):
    """HRNet pose network; ``forward(images (B, 3, H, W)) -> heatmaps (B, num_joints, H/4, W/4)``."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        stem = config.stem_channels
        self.conv1 = nn.Conv2d(3, stem, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.conv2 = nn.Conv2d(stem, stem, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(stem)
        self.relu = nn.ReLU(inplace=True)

        # layer1: bottlenecks with stem_channels planes (paper: 4 blocks of 64 planes -> 256 channels).
        self.layer1 = nn.Sequential(*[
            Bottleneck(stem if i == 0 else stem * Bottleneck.expansion, stem) for i in range(config.num_blocks)
        ])

        widths = [config.width * 2**i for i in range(4)]
        previous = [stem * Bottleneck.expansion]
        for stage, num_units in enumerate(config.num_modules, start=2):
            channels = widths[:stage]
            # Official module names: transition1..3 and stage2..4. The last unit of stage 4 outputs one branch.
            self.add_module(f"transition{stage - 1}", make_transition(previous, channels))
            self.add_module(f"stage{stage}", nn.Sequential(*[
                ExchangeUnit(channels, config.num_blocks, multi_scale_output=not (stage == 4 and u == num_units - 1))
                for u in range(num_units)
            ]))
            previous = channels

        self.final_layer = nn.Conv2d(widths[0], config.num_joints, kernel_size=1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(images)))
        x = self.relu(self.bn2(self.conv2(x)))
        xs = [self.layer1(x)]
        for stage in (2, 3, 4):
            transition = getattr(self, f"transition{stage - 1}")
            xs = [layer(xs[min(i, len(xs) - 1)]) for i, layer in enumerate(transition)]
            xs = getattr(self, f"stage{stage}")(xs)
        return self.final_layer(xs[0])


def init_weights(model: nn.Module) -> None:
    """The official training initialisation (``PoseHighResolutionNet.init_weights``): convs and transposed convs
    ~ N(0, 0.001) with zero bias, BN weight 1 and bias 0. ``pose.train`` applies it before loading weights.

    (Built models keep PyTorch's default initialisation, as the official code does when not training.)
    """
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(module.weight, std=0.001)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


def count_parameters(model: nn.Module) -> int:
    """Number of learnable parameters (BN running statistics excluded), as the paper's "#Params"."""
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of the convolutions and linear layers for one forward pass of a zero input.

    Counted as the official ``get_model_summary`` does: conv ``prod(weight.shape) * prod(out.shape[2:])``,
    linear ``prod(out.shape) * in_features``, bias, BN, ReLU, upsampling and additions not counted. The published
    HRNet "GFLOPs" are this number / 2**30 for ``input_shape = (1, 3, H, W)``.
    """
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            total += module.weight.numel() * output.shape[2:].numel()
        elif isinstance(module, nn.Linear):
            total += output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    try:
        model.eval()
        parameter = next(model.parameters())
        model(torch.zeros(input_shape, dtype=parameter.dtype, device=parameter.device))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return total
