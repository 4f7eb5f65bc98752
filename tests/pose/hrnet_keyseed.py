"""Key-seeded HRNet weights (procedure of ../shared/reference/README.md): every state-dict entry is filled from a
generator seeded with the CRC32 of its own key, so any model with the official key names and shapes gets the same
weights as the official model did when the reference outputs were made."""
from __future__ import annotations

import zlib

import torch


def key_seeded_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    seeded = {}
    for name, tensor in state_dict.items():
        generator = torch.Generator().manual_seed(zlib.crc32(name.encode("utf-8")))
        if name.endswith("num_batches_tracked"):
            value = torch.zeros_like(tensor)
        elif tensor.dim() == 4:
            value = torch.randn(tensor.shape, generator=generator) * (1 / tensor[0].numel()) ** 0.5
        elif name.endswith("running_var") or name.endswith(".weight"):
            value = torch.rand(tensor.shape, generator=generator) * 0.25 + 0.25
        else:  # biases, running_mean
            value = torch.randn(tensor.shape, generator=generator) * 0.1
        seeded[name] = value.to(tensor.dtype)
    return seeded
