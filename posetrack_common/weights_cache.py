"""The weights cache: named weights are downloaded once into one folder, checked against their sha256, and, where
they cannot be downloaded, named in one error with their URL and the folder to put them in.

Used by ``pose`` (the HRNet registry) and ``flow`` (ptlflow's and torchvision's flow checkpoints), so both fetch,
check and fail the same way.

* Folder: ``$POSETRACK_WEIGHTS_DIR``, else torch hub's ``<torch.hub.get_dir()>/checkpoints`` (where torchvision and
  ptlflow keep their downloads too, so files they fetched are found).
* Offline: ``$POSETRACK_OFFLINE=1`` (or ``offline=True``) forbids downloads; a missing file is then an error.
* Checksum: the full sha256 or its leading hex digits (torch hub and MMPose put the first 8 in the file name,
  ``name-<sha256[:8]>.pth``; :func:`hash_in_file_name` reads them).
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path

logger = logging.getLogger(__name__)

# torch hub's convention (torch.hub.HASH_REGEX): the hex digits after the last "-" of a file name start its sha256.
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,64})\.")


class WeightsFileError(ValueError):
    """A weights file that cannot be had or is not the expected one; the message names it and the fix."""


def weights_dir() -> Path:
    """Where named weights are cached: ``$POSETRACK_WEIGHTS_DIR`` or ``torch.hub.get_dir()/checkpoints``."""
    override = os.environ.get("POSETRACK_WEIGHTS_DIR")
    if override:
        return Path(override)
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def offline_mode(offline: bool | None = None) -> bool:
    """``offline`` when given, else whether ``$POSETRACK_OFFLINE`` is set to 1 / true / yes / on."""
    if offline is not None:
        return offline
    return os.environ.get("POSETRACK_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def hash_in_file_name(url_or_name: str) -> str | None:
    """The leading sha256 digits a file name carries (``raft_small_C_T_V2-01064c6d.pth`` -> ``01064c6d``), or None."""
    match = _HASH_IN_NAME.search(os.path.basename(url_or_name))
    return match.group(1) if match else None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str | None, name: str = "",
                  error: type[Exception] = WeightsFileError) -> None:
    """Raise ``error`` if the file's sha256 does not start with ``expected``; skip (with a warning) when None.

    ``name``: how to call the file in messages (default: its path).
    """
    name = name or str(path)
    if not expected:
        logger.warning("no sha256 is known for %s; its integrity is not checked", Path(name).name)
        return
    actual = sha256_of(path)
    if not actual.startswith(expected.lower()):
        raise error(
            f"{name} has sha256 {actual[:16]}... but {expected[:16]}... was expected; the file is corrupt or "
            "another version: delete it and download it again"
        )


def fetch(what: str, file: str, url: str | None, sha256: str | None, offline: bool | None = None,
          progress: bool = True, error: type[Exception] = WeightsFileError) -> Path:
    """The path of ``file`` in :func:`weights_dir`, downloaded from ``url`` first if absent and allowed.

    what: how messages call the weights (``"weights 'hrnet_w32_coco_256x192'"``); sha256: the digest or its leading
    digits (None: not checked). A failed download leaves no partial file. Raises ``error`` when the file is absent
    and cannot be downloaded (offline, no URL, no network) or does not match its sha256.
    """
    folder = weights_dir()
    path = folder / file
    if path.is_file():
        verify_sha256(path, sha256, error=error)
        return path
    if offline_mode(offline) or not url:
        reason = "downloads are off (offline mode)" if url else f"{file} cannot be downloaded automatically"
        where = f"download it from {url} and " if url else "get it (no public download URL is known) and "
        raise error(
            f"{what} need the file {file}, which is not in {folder} and {reason}; "
            f"{where}put it in {folder} (or set POSETRACK_WEIGHTS_DIR to its folder)"
        )
    import torch.hub

    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        torch.hub.download_url_to_file(url, str(partial), progress=progress)
    except Exception as exc:  # URLError, HTTPError, socket and SSL errors
        partial.unlink(missing_ok=True)
        raise error(
            f"could not download {file} from {url} ({type(exc).__name__}: {str(exc)[:120]}); "
            f"download it by hand and put it in {folder} (or set POSETRACK_WEIGHTS_DIR to its folder)"
        ) from None
    try:
        verify_sha256(partial, sha256, name=f"{file} downloaded from {url}", error=error)
    except Exception:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)
    return path
