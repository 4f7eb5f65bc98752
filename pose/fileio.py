"""Atomic file output: a file appears under its name only once it is completely written.

Everything the project writes for a user (predictions, checkpoints, logs, overlays) goes through a temporary file
beside the target that is renamed into place at the end, so an interrupted run never leaves a partial file that
looks complete. The renamed file gets the permissions a plain ``open(path, "w")`` would give (``tempfile`` creates
files readable by their owner only).
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def temporary_path(path: str | os.PathLike, suffix: str = ".tmp") -> Path:
    """An empty hidden file beside ``path`` (same file system, so the final rename is atomic)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(handle)
    return Path(name)


def publish(temporary: str | os.PathLike, path: str | os.PathLike) -> None:
    """Give ``temporary`` the default file mode (0o666 less the umask) and rename it to ``path``."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)
    os.replace(temporary, path)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yields a temporary path to write; on success it becomes ``path``, on an exception it is removed."""
    temporary = temporary_path(path, suffix)
    try:
        yield temporary
        publish(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | os.PathLike, obj, indent: int | None = None, allow_nan: bool = True) -> None:
    """``json.dumps`` (one-shot C encoder, faster than ``json.dump``) written atomically."""
    write_text_atomic(path, json.dumps(obj, indent=indent, allow_nan=allow_nan))


def parse_json_file(path: str | os.PathLike, error: type[Exception], what: str, fix: str):
    """The parsed JSON of an existing file; malformed or undecodable content raises ``error`` with one sentence:
    "<what> <path> is not valid JSON (<parser message>); <fix>"."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{what} {path} is not valid JSON ({exc}); {fix}") from None
