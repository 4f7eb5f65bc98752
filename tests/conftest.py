"""Shared test fixtures: where ../shared is, and skips with a reason when it is absent."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# ../shared beside the checkout (CI clones the project next to it); POSETRACK_SHARED overrides.
SHARED = Path(os.environ.get("POSETRACK_SHARED", REPO_ROOT.parent / "shared"))


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the calling test with the reason when it is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (the shared data folder beside the checkout); it is absent")
    return path


@pytest.fixture
def shared():
    return shared_path


@pytest.fixture
def hrnet_reference(shared):
    """The official HRNet helpers' test vectors: (arrays of the .npz, ``results`` of the .json); skips when absent."""
    import json

    import numpy as np

    arrays = np.load(shared("reference", "hrnet", "hrnet_helpers_reference.npz"))
    results = json.loads(shared("reference", "hrnet", "hrnet_helpers_reference.json").read_text())["results"]
    return arrays, results
