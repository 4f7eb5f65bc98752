"""The import arrows of the architecture: tracker -> pose, tracker -> flow; pose and flow never import tracker, flow
never imports pose; posetrack_common (shared by pose and flow) imports none of them. Every module's imports are read
from its source (ast), those inside functions included."""
from __future__ import annotations

import ast

import pytest

from tests.conftest import REPO_ROOT

PACKAGES = ("tracker", "pose", "flow", "posetrack_common")
# package -> the packages of this project it must never import (posetrack_common: what pose and flow share)
FORBIDDEN = {"pose": {"tracker", "flow"}, "flow": {"tracker", "pose"}, "tracker": set(),
             "posetrack_common": {"tracker", "pose", "flow"}}


def imported_packages(source: str) -> list[tuple[int, str]]:
    """(line, top-level package) of every absolute import in ``source``, at any depth (functions, branches)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def forbidden_imports(root) -> list[str]:
    """``path:line: package imports other`` for every import that crosses a forbidden arrow under ``root``."""
    problems = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            for line, imported in imported_packages(path.read_text(encoding="utf-8")):
                if imported in FORBIDDEN[package]:
                    problems.append(f"{path.relative_to(root)}:{line}: {package} imports {imported}")
    return problems


def test_no_module_imports_against_the_arrows():
    assert sum(1 for package in PACKAGES for _ in (REPO_ROOT / package).rglob("*.py")) > 50  # the tree was read
    assert forbidden_imports(REPO_ROOT) == []


@pytest.mark.parametrize("package, source, imported", [
    ("pose", "def f():\n    from flow.nms import oks_nms\n", "flow"),         # inside a function
    ("flow", "import tracker.types\n", "tracker"),
    ("flow", "if True:\n    from pose.keypoints import COCO17\n", "pose"),
])
def test_the_check_finds_a_forbidden_import(tmp_path, package, source, imported):
    for name in PACKAGES:
        (tmp_path / name).mkdir()
    (tmp_path / package / "bad.py").write_text(source)
    (tmp_path / "tracker" / "fine.py").write_text("import pose.model\nfrom flow import get_estimator\n")
    problems = forbidden_imports(tmp_path)
    assert len(problems) == 1 and problems[0].endswith(f"{package} imports {imported}")
