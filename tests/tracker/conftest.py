"""Fixtures of the tracker tests: the tiny test HRNet (its config and random weights saved as a checkpoint)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import pose
from tests.conftest import REPO_ROOT

TINY = str(REPO_ROOT / "tests" / "data" / "tiny_hrnet_track.yaml")


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """Random weights of the tiny test HRNet, saved as a state dict (what an official checkpoint holds)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "tiny_hrnet.pth"
    torch.save(pose.build_model(TINY).state_dict(), path)
    return path
