"""Atomic output: nothing under the final name until the write completes, and ordinary file permissions."""
import os
import stat

import pytest

from pose.fileio import atomic_path, write_json_atomic, write_text_atomic


def test_written_file_has_umask_permissions_and_no_leftovers(tmp_path):
    umask = os.umask(0o022)
    try:
        write_json_atomic(tmp_path / "sub" / "a.json", {"x": 1})
    finally:
        os.umask(umask)
    path = tmp_path / "sub" / "a.json"
    assert path.read_text() == '{"x": 1}'
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["a.json"]


def test_failed_write_leaves_neither_file_nor_temporary(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "b.bin") as temporary:
            temporary.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_existing_file_is_replaced_whole(tmp_path):
    write_text_atomic(tmp_path / "c.txt", "old")
    write_text_atomic(tmp_path / "c.txt", "new")
    assert (tmp_path / "c.txt").read_text() == "new"
    with pytest.raises(ValueError):
        write_json_atomic(tmp_path / "c.txt", {"bad": float("nan")}, allow_nan=False)
    assert (tmp_path / "c.txt").read_text() == "new"
